"""Profile single-line reservations: time per call, statements per call, where the time goes.

    .venv/bin/python bench/profile_reserve.py [--count 2000] [--items 1000]

Builds its own database (stockledger_bench_profile, as bench/reserve_service.py builds its one),
runs `--count` reservations of 1 unit of a random product in one process under cProfile after
200 warm-up ones, prints ms per reservation, each statement per reservation with SQLAlchemy's
compiled-cache status, and the top of the cumulative profile. Drops the database at the end.
"""

import argparse
import collections
import cProfile
import pstats
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reserve_service as bench

from stockledger.core.db import Database
from stockledger.reservations.service import ReserveLine, reserve_stock

bench.NAME = "stockledger_bench_profile"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--items", type=int, default=1_000)
    args = parser.parse_args()
    bench.create_database(args.items)
    db = Database(bench.url(bench.NAME), pool_size=1)
    statements: collections.Counter[str] = collections.Counter()

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(_conn: Any, _cur: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        cache = str(getattr(context, "cache_hit", "?")).removeprefix("CacheStats.")
        statements[f"{cache:14} {sql.split(chr(10))[0][:90]}"] += 1

    rng = random.Random(1)

    def run(count: int) -> None:
        for n in range(count):
            product = f"P{rng.randrange(args.items):06d}"
            with db.transaction() as session:
                reserve_stock(
                    session, f"PROF-{n}-{time.time_ns()}", "F1", [ReserveLine("1", product, Decimal(1))]
                )

    run(200)
    statements.clear()
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    run(args.count)
    profile.disable()
    elapsed = time.perf_counter() - began
    print(f"{elapsed / args.count * 1000:.2f} ms per reservation under cProfile")
    print(f"{sum(statements.values()) / args.count:.1f} statements per reservation (+ COMMIT):")
    for sql, n in statements.most_common():
        print(f"  {n / args.count:4.1f}  {sql}")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    db.dispose()
    with psycopg.connect(bench.ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {bench.NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
