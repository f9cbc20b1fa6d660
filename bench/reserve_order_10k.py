"""Benchmark: one order of 10,000 lines through reserveStock, on PostgreSQL and on SQLite.

    .venv/bin/python bench/reserve_order_10k.py [--lines 10000] [--rounds 3]

Builds the databases of bench/reserve_service.py (PostgreSQL) and bench/reserve_sqlite.py (a
SQLite file), each with `--lines` products of one item, then times `--rounds` orders, each one
transaction running reservations.service.reserve_stock for every product (1 unit per line,
ALL_OR_NOTHING), as POST /v1/orders/{id}/reserve does without HTTP. Prints the median seconds as
`SECONDS reserve_order_10k_<db> <value>` (target < 2 s), runs verify, appends to bench/RESULTS.md.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reserve_service as pg
import reserve_sqlite as lite

from stockledger.core.db import Database
from stockledger.reservations.service import ReserveLine, reserve_stock

NAME = "stockledger_bench_order_10k"
ROOT = Path(__file__).resolve().parents[1]


def time_orders(db: Database, lines: int, rounds: int, tag: str) -> list[float]:
    order = [ReserveLine(f"{n:05d}", f"P{n:06d}", Decimal(1)) for n in range(lines)]
    seconds = []
    for r in range(rounds):
        began = time.perf_counter()
        with db.transaction() as session:
            outcome = reserve_stock(session, f"{tag}-{r}", "F1", order)
        seconds.append(time.perf_counter() - began)
        assert sum(line.quantity_reserved for line in outcome.lines) == lines
    return seconds


def measure(url: str, lines: int, rounds: int, tag: str) -> list[float]:
    db = Database(url, pool_size=1)
    try:
        return time_orders(db, lines, rounds, tag)
    finally:
        db.dispose()


def report(rows: list[tuple[str, list[float], int]], lines: int, rounds: int) -> None:
    with (ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write(
            f"\n## reserve_order_10k — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"`.venv/bin/python bench/reserve_order_10k.py --lines {lines} --rounds {rounds}` "
            "(one order, one transaction, 1 unit per line)\n\n"
            "| database | each order, s | median s | verify |\n|---|---|---|---|\n"
        )
        for name, seconds, mismatches in rows:
            each = ", ".join(f"{s:.2f}" for s in seconds)
            results.write(
                f"| {name} | {each} | {statistics.median(seconds):.2f} | {mismatches} mismatches |\n"
            )
        results.write("\nTarget < 2 s.\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[str, list[float], int]] = []

    def on_postgres() -> tuple[list[float], int]:
        pg.create_database(args.lines, NAME)
        try:
            return measure(pg.url(NAME), args.lines, args.rounds, "PG"), pg.count_mismatches(NAME)
        finally:
            pg.drop_database(NAME)

    def on_sqlite() -> tuple[list[float], int]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "order10k.db"
            lite.create_database(path, args.lines)
            return measure(f"sqlite:///{path}", args.lines, args.rounds, "LITE"), lite.count_mismatches(path)

    runs: list[tuple[str, Callable[[], tuple[list[float], int]]]] = [
        ("postgresql", on_postgres),
        ("sqlite", on_sqlite),
    ]
    for name, run in runs:
        seconds, mismatches = run()
        rows.append((name, seconds, mismatches))
        print(f"{name}: {', '.join(f'{s:.2f}' for s in seconds)} s; verify: {mismatches} mismatches")
        print(f"SECONDS reserve_order_10k_{name} {statistics.median(seconds):.2f}")
    report(rows, args.lines, args.rounds)


if __name__ == "__main__":
    main()
