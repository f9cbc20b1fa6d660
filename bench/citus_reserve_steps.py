"""Benchmark: the sole-item reservation on the Citus cluster, in steps against the one statement.

    .venv/bin/python bench/citus_reserve_steps.py [--reservations 100] [--rounds 6] [--items 200]

Needs the cluster of scripts/citus.sh running, and nothing else using it (the CPU of a node is
its whole process tree). On the database stockledger_bench_citus_steps (4 facilities, half on
each worker; `--items` products, one item of each in each facility; Citus's 32 shards a table),
one client reserves 1 unit of a random product in a random facility (a unique order each), in
a transaction of its own, the two ways the ledger can: `post_sole_item` (ledger/post.py; on Citus:
ledger/sole_item_steps_pg.py, every write a router plan, one read over every shard) and the one
statement of plain PostgreSQL (`sole_item_statement`, which Citus plans in parts). Rounds of
`--reservations` alternate between them. Prints, for each, the wall time of a reservation and
the CPU each node spent per reservation (ms, from /proc), `RATIO citus_reserve_steps <one
statement wall / steps wall>`; checks `stockledger verify`, and appends to bench/RESULTS.md.
"""

import argparse
import os
import random
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from citus_reserve_http import stock
from citusbench import citus, cpu_delta, create_database, drop_database, node_cpu, spread_facilities
from httpbench import CLI, append_results, load_average

from stockledger.core.db import Database
from stockledger.core.statements import run
from stockledger.ledger.post import post_sole_item
from stockledger.ledger.sole_item_pg import SoleItemReservation, sole_item_statement
from stockledger.reservations.lines import ReserveLine, sole_item

NAME = "stockledger_bench_citus_steps"
USER = "bench"
Way = Callable[[Database, SoleItemReservation], bool]


def in_steps(db: Database, reservation: SoleItemReservation) -> bool:
    with db.transaction() as session:
        return post_sole_item(session, reservation) is not None


def one_statement(db: Database, reservation: SoleItemReservation) -> bool:
    with db.transaction() as session:
        return bool(run(session, sole_item_statement(session, reservation, USER)))


WAYS: dict[str, Way] = {"steps": in_steps, "one statement": one_statement}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=100, help="per round and way")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--items", type=int, default=200, help="products (one item each per facility)")
    args = parser.parse_args()
    backend = citus()
    url = create_database(backend, NAME)
    try:
        facilities = spread_facilities(url, 4)
        stock(url, facilities, args.items)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # no autovacuum of the load during the rounds
        db = Database(url, user=USER)
        rng = random.Random(7)
        orders = iter(range(1, 10**9))

        def reserve(way: Way) -> None:
            line = ReserveLine("00001", f"P{rng.randrange(args.items):06d}", Decimal(1))
            reservation = sole_item(f"B{next(orders)}", rng.choice(facilities), line, "ALL_OR_NOTHING")
            assert way(db, reservation), "the sole item did not take the line"

        for way in WAYS.values():  # warm: connections, plans
            for _ in range(20):
                reserve(way)
        wall = dict.fromkeys(WAYS, 0.0)
        cpu: dict[str, dict[str, float]] = {name: {} for name in WAYS}
        for _ in range(args.rounds):
            for name, way in WAYS.items():
                before, started = node_cpu(backend), time.perf_counter()
                for _ in range(args.reservations):
                    reserve(way)
                wall[name] += time.perf_counter() - started
                for node, spent in cpu_delta(before, node_cpu(backend)).items():
                    cpu[name][node] = cpu[name].get(node, 0.0) + spent
        db.dispose()
        env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url}
        checked = subprocess.run([CLI, "verify"], env=env, capture_output=True, text=True)
        verified = "clean" if checked.returncode == 0 else "NOT CLEAN: " + checked.stdout[-300:]
    finally:
        drop_database(backend, NAME)
    report(args, wall, cpu, verified)


def report(
    args: argparse.Namespace, wall: dict[str, float], cpu: dict[str, dict[str, float]], verified: str
) -> None:
    count = args.reservations * args.rounds
    lines = []
    for name in WAYS:
        per_node = ", ".join(f"{node} {1000 * spent / count:.2f}" for node, spent in cpu[name].items())
        ms = 1000 * wall[name] / count
        print(f"{name}: {ms:.2f} ms a reservation (one client); CPU ms per reservation by node: {per_node}")
        lines.append(f"| {name} | {ms:.2f} | {per_node} |\n")
    ratio = wall["one statement"] / wall["steps"]
    print(f"RATIO citus_reserve_steps {ratio:.3f}; verify {verified}")
    append_results(
        f"\n## citus_reserve_steps — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`.venv/bin/python bench/citus_reserve_steps.py --reservations {args.reservations}"
        f" --rounds {args.rounds} --items {args.items}` (the Citus 13.2.2 cluster of scripts/citus.sh,"
        f" 32 shards a table, one client, on the 2-CPU machine; load average at the end {load_average()})\n\n"
        "| sole-item reservation | ms each (wall) | CPU ms per reservation, by node |\n"
        "|---|---|---|\n" + "".join(lines) + f"\nRATIO citus_reserve_steps {ratio:.3f}; verify {verified}\n"
    )


if __name__ == "__main__":
    main()
