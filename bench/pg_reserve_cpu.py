"""PostgreSQL's CPU per one-statement reservation, two versions of the statement interleaved.

    .venv/bin/python bench/pg_reserve_cpu.py --against OLD_SRC [--seconds 30] [--block 50]
                                             [--items 10000] [--order-items 100000] [--reuse]
                                             [--database stockledger_bench_pgcpu]

Builds `--database` as bench/cpu_reserve.py does (bench/reserve_service.py's items, `--order-items`
order items already claimed), then, in this one process, sends the ledger's one-statement
reservation (ledger/sole_item_pg.py, through `Database.run_alone`: the prepared statement and
typed values the service sends; 1 unit of a random product, each call its own order) on two
connections: on A the statement as the tree `--against` (a `src` directory, e.g. main's from
`git archive main src | tar -x -C /tmp/x`) writes it, on B as this tree (PYTHONPATH) does, the
same values for both. Blocks of `--block` calls alternate A, B, B, A for `--seconds`; each
block's server CPU is its backend's run time (/proc/<pid>/schedstat, the scheduler's own count,
in ns). Interleaving blocks of a fraction of a second is what makes the difference readable on
a machine others load: both versions see the same load, a run of A against B on separate runs
moved by ±10 % on this box. Printed: µs of server CPU per reservation for A and B (total, and
the median of the per-quarter-second ratios) and B - A. Without `--against`, A and B are both
this tree (the noise floor). The client's CPU is not counted.

Run it under `flock /work/wt/bench.lock`. Drops the database at the end unless `--reuse`.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cpu_reserve
import reserve_service as bench

from stockledger.core.db import Database
from stockledger.core.statements import Statement
from stockledger.ledger.sole_item_pg import sole_item_statement
from stockledger.reservations.lines import sole_item
from stockledger.reservations.rules import ALL_OR_NOTHING
from stockledger.reservations.service import ReserveLine

NAME = "stockledger_bench_pgcpu"
WARM_UP = 300
_PRINT_SQL = (
    "import json; from stockledger.ledger import sole_item_pg as s; "
    "print(json.dumps([[list(k), v] for k, v in s._SQL.items()]))"
)


def sql_of(src: str) -> dict[tuple[bool, bool], str]:
    """The statement's texts (by lot given, expired allowed) as the tree `src` writes them."""
    out = subprocess.run(
        [sys.executable, "-c", _PRINT_SQL],
        env={"PYTHONPATH": src},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {(k[0], k[1]): v for k, v in json.loads(out)}


class Side:
    """One version of the statement on a connection of its own, and its backend's CPU."""

    def __init__(self, url: str, texts: dict[tuple[bool, bool], str] | None) -> None:
        self.db = Database(url, pool_size=1)
        self.texts = texts
        raw = self.db.alone_engine.raw_connection()
        self.pid = int(raw.dbapi_connection.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[union-attr]
        raw.rollback()
        raw.close()  # back to the pool: every call below runs on this backend
        self.cpu = 0.0
        self.calls = 0

    def reserve(self, order_id: str, product_id: str) -> None:
        line = ReserveLine("00001", product_id, Decimal(1))
        reservation = sole_item(order_id, "F1", line, ALL_OR_NOTHING)
        statement = sole_item_statement(self.db.engine.dialect, reservation, None)
        if self.texts is not None:
            statement = Statement(self.texts[False, False], statement.params)
        assert self.db.run_alone(statement), "no row: the one statement wrote nothing"

    def block(self, orders: list[tuple[str, str]]) -> float:
        """The calls of `orders`; their server CPU in µs per call."""
        start = cpu_reserve.backend_cpu(self.pid)
        for order_id, product_id in orders:
            self.reserve(order_id, product_id)
        spent = cpu_reserve.backend_cpu(self.pid) - start
        self.cpu += spent
        self.calls += len(orders)
        return spent / len(orders) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", help="the src directory of the version to compare with (A)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--order-items", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database, use it if there")
    parser.add_argument("--database", default=NAME)
    args = parser.parse_args()
    name = args.database
    if not (args.reuse and cpu_reserve.exists(name)):
        bench.create_database(args.items, name)
        cpu_reserve.claim_order_items(args.order_items, args.items, name)
    a = Side(bench.url(name), sql_of(args.against) if args.against else None)
    b = Side(bench.url(name), None)
    rng = random.Random(1)
    run_id = f"PGC-{time.time_ns()}"
    made = 0

    def orders(count: int) -> list[tuple[str, str]]:
        nonlocal made
        made += count
        return [(f"{run_id}-{made - n}", f"P{rng.randrange(args.items):06d}") for n in range(count)]

    for side in (a, b):  # prepared, warm
        side.block(orders(WARM_UP))
        side.cpu, side.calls = 0.0, 0
    ratios: list[float] = []
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() < deadline:
        first, second = (a, b) if len(ratios) % 2 == 0 else (b, a)
        us = {id(first): first.block(orders(args.block)), id(second): second.block(orders(args.block))}
        ratios.append(us[id(b)] / us[id(a)])
    a_us, b_us = a.cpu / a.calls * 1e6, b.cpu / b.calls * 1e6
    print(f"{len(ratios)} block pairs of {args.block} calls each side")
    print(f"A ({args.against or 'this tree'}): {a_us:.1f} µs server CPU per reservation")
    print(f"B (this tree): {b_us:.1f} µs server CPU per reservation")
    quartiles = statistics.quantiles(ratios, n=4)
    spread = f"median {quartiles[1]:.3f}, quartiles {quartiles[0]:.3f}–{quartiles[2]:.3f}"
    print(f"B/A: {b_us / a_us:.3f} (per block pair: {spread})")
    print(f"B - A: {b_us - a_us:+.1f} µs")
    a.db.dispose()
    b.db.dispose()
    if not args.reuse:
        bench.drop_database(name)


if __name__ == "__main__":
    main()
