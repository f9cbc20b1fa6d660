"""CPU per single-line reservation, client and server, in ONE process (robust to a loaded machine).

    .venv/bin/python bench/cpu_reserve.py [--count 2000] [--items 10000] [--order-items 100000]
                                          [--rounds 5] [--explain] [--profile] [--reuse]
                                          [--database stockledger_bench_cpu]

Builds `--database` (default stockledger_bench_cpu) as bench/reserve_service.py builds its
database (`--items` products, one item each, loaded by plain SQL, no ANALYZE) plus
`--order-items` order items already claimed (the table a running shop has), then in one
process, after 500 warm-up calls, `--rounds` times `--count` calls of bench/reserve_service.py's
reserve_line (1 unit of a random product, each its own order): the client's CPU
(time.process_time) and the server backend's (its run time in /proc/<pg_backend_pid()>/schedstat;
PostgreSQL on this machine) per call. CPU time, not wall time: other load on the machine slows
the calls but barely changes their CPU. `--explain`: EXPLAIN (ANALYZE, BUFFERS) of the
statement for one more reservation (rolled back). `--profile`: the client's cProfile
(cumulative, top 30; own time, top 25). Drops the database at the end unless `--reuse` (which
also uses it when it exists: before and after a change, the same table).
"""

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import psycopg
from psycopg import RawCursor

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reserve_service as bench

from stockledger.core.db import Database
from stockledger.core.statements import Statement, numbered
from stockledger.ledger.sole_item_pg import sole_item_statement
from stockledger.reservations.lines import sole_item
from stockledger.reservations.rules import ALL_OR_NOTHING
from stockledger.reservations.service import ReserveLine

NAME = "stockledger_bench_cpu"
WARM_UP = 500


def backend_cpu(pid: int) -> float:
    """Seconds the server process `pid` has run on a CPU: the scheduler's own count, in ns
    (/proc/<pid>/schedstat), exact where /proc/<pid>/stat's utime + stime are sampled at each
    clock tick (10 ms: ±10 % over a round of a few thousand calls)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def claim_order_items(count: int, items: int, name: str = NAME) -> None:
    """`count` order items claimed already, one product each, as earlier reservations leave them."""
    with psycopg.connect(bench.url(name)) as conn:
        conn.execute(
            "INSERT INTO order_item (facility_id, order_id, order_item_seq_id, product_id, created_stamp) "
            "SELECT 'F1', 'OLD-' || n, '00001', 'P' || lpad((n %% %s)::text, 6, '0'), now() "
            "FROM generate_series(1, %s) AS n",
            (items, count),
        )


def exists(name: str) -> bool:
    with psycopg.connect(bench.ADMIN) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def explain(db: Database, items: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one reservation's statement, rolled back."""
    line = ReserveLine("00001", f"P{items // 2:06d}", Decimal(1))
    reservation = sole_item("EXPLAINED", "F1", line, ALL_OR_NOTHING)
    sql, values = numbered(sole_item_statement(db.engine.dialect, reservation, None))
    raw = db.alone_engine.raw_connection()  # planned as run_alone plans it
    try:
        driver = cast(psycopg.Connection[Any], raw.dbapi_connection)
        with driver.transaction(force_rollback=True):
            cursor = RawCursor(driver)
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", values)
            return "\n".join(str(row[0]) for row in cursor.fetchall())
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--order-items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database for the next run, use it if there"
    )
    parser.add_argument("--database", default=NAME)
    args = parser.parse_args()
    name = args.database
    if not (args.reuse and exists(name)):
        bench.create_database(args.items, name)
        claim_order_items(args.order_items, args.items, name)
    db = Database(bench.url(name), pool_size=1)
    # the backend of the one connection of run_alone's pool: every call below runs on it
    [(pid,)] = db.run_alone(Statement("WITH me AS (SELECT pg_backend_pid() AS pid) SELECT pid FROM me", {}))
    rng = random.Random(1)
    run_id, calls = time.time_ns(), 0  # order ids of their own in a reused database

    def run(count: int) -> None:
        nonlocal calls
        for _ in range(count):
            product = f"P{rng.randrange(args.items):06d}"
            bench.reserve_line(db, f"CPU-{run_id}-{calls}", "F1", ReserveLine("00001", product, Decimal(1)))
            calls += 1

    run(WARM_UP)
    clients, servers, walls = [], [], []
    for _ in range(args.rounds):
        client, server, wall = time.process_time(), backend_cpu(pid), time.perf_counter()
        run(args.count)
        clients.append((time.process_time() - client) / args.count * 1e6)
        servers.append((backend_cpu(pid) - server) / args.count * 1e6)
        walls.append((time.perf_counter() - wall) / args.count * 1e6)
    print(f"{args.rounds} rounds of {args.count} reservations, {args.order_items} order items before")
    for label, values in (("client", clients), ("server", servers), ("wall", walls)):
        rounds = " ".join(f"{x:.0f}" for x in values)
        print(f"{label} µs/call: min {min(values):.0f} median {statistics.median(values):.0f} ({rounds})")
    total = statistics.median(clients) + statistics.median(servers)
    print(f"CPU µs/reservation (client + server medians): {total:.0f}")
    if args.explain:
        print(explain(db, args.items))
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        run(args.count)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    db.dispose()
    if not args.reuse:
        bench.drop_database(name)


if __name__ == "__main__":
    main()
