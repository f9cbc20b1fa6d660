"""Benchmark: single-unit reservations through the service layer, against pgbench in the same run.

    .venv/bin/python bench/reserve_service.py [--workers 8] [--items 10000] [--seconds 20]
                                              [--rounds 4] [--database stockledger_bench_reserve]

Creates the database `--database` (default stockledger_bench_reserve; another name lets two
runs share the server) (1 facility, `--items` products with one item
each holding plenty of ATP, loaded through the ledger so `verify` holds), then:
  * ours: `--workers` processes, each in a loop: `reserve_line` below
    (reservations.service.reserve_line: the one statement alone, else a transaction of its
    own) for 1 unit of a random product (what POST /v1/reservations without an
    Idempotency-Key does, without HTTP);
  * baseline: pgbench -M prepared (the best a raw client does) with `--workers` clients
    running the 5-round-trip script of issue 9 (BEGIN; guarded UPDATE of the item's ATP; INSERT
    a detail row; INSERT a reservation row; COMMIT) on the same items; also -M simple, the
    baseline of the sessions before 7, printed for history.
The two alternate in `--rounds` pairs (bench/rounds.py: ABBA, ours first, `--seconds` split
among the rounds of each side; the RATIO is the median of the pairs' ratios), -M simple once.
No hand ANALYZE between the load and the runs: the statistics are what a user has.
Prints `RATIO reserve_service <ours/pgbench>`, runs verify, appends to bench/RESULTS.md.
"""

import argparse
import multiprocessing as mp
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from rounds import alternate, round_seconds
from sqlalchemy import text

from stockledger.core import migrate
from stockledger.core.db import Database
from stockledger.core.statements import Statement
from stockledger.core.transactions import command_transaction
from stockledger.ledger.verify import find_mismatches
from stockledger.reservations import service
from stockledger.reservations.service import ReserveLine, ReserveOutcome

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "stockledger_bench_reserve"
ROOT = Path(__file__).resolve().parents[1]
STOCK = 1_000_000  # units per item: no reservation is ever refused during the run
MICROS = 1_000_000

PGBENCH_SCRIPT = """\\set pid random(0, {last})
BEGIN;
UPDATE bench_item SET available_to_promise_total = available_to_promise_total - 1000000,
  last_detail_seq = last_detail_seq + 1
  WHERE facility_id = 'F1' AND inventory_item_id = 'I' || lpad(:pid::text, 6, '0')
  AND available_to_promise_total >= 1000000;
INSERT INTO bench_detail (facility_id, inventory_item_id, atp_diff, reason, effective_date)
  VALUES ('F1', 'I' || lpad(:pid::text, 6, '0'), -1000000, 'RESERVATION', now());
INSERT INTO bench_reservation (facility_id, order_id, inventory_item_id, quantity, reserved_datetime)
  VALUES ('F1', 'PGB' || :client_id, 'I' || lpad(:pid::text, 6, '0'), 1000000, now());
COMMIT;
"""


def url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str | None = None) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name or NAME} WITH (FORCE)")


def create_database(items: int, name: str | None = None) -> None:
    """The benchmark database `name` (default NAME): migrated, `items` products and items loaded."""
    name = name or NAME
    new_database(name)
    with psycopg.connect(url(name)) as conn:
        conn.execute(
            "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
            "VALUES ('F1', 'FIFO', now())"
        )
        conn.execute(
            "INSERT INTO product (product_id, created_stamp) "
            "SELECT 'P' || lpad(n::text, 6, '0'), now() FROM generate_series(0, %s) n",
            (items - 1,),
        )
        conn.execute(
            "INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id,"
            " status_id, datetime_received, quantity_on_hand_total, available_to_promise_total,"
            " accounting_quantity_total, last_detail_seq, created_stamp) "
            "SELECT 'F1', 'I' || lpad(n::text, 6, '0'), 'NON_SERIAL_INV_ITEM', 'P' || lpad(n::text, 6, '0'),"
            " 'INV_AVAILABLE', now(), %s, %s, %s, 1, now() FROM generate_series(0, %s) n",
            (STOCK * MICROS, STOCK * MICROS, STOCK * MICROS, items - 1),
        )
        conn.execute(
            "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,"
            " seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff,"
            " accounting_quantity_diff, reason_enum_id, created_stamp) "
            "SELECT facility_id, inventory_item_id, '00001', 1, now(), quantity_on_hand_total,"
            " available_to_promise_total, accounting_quantity_total, 'INV_RECEIPT', now() FROM inventory_item"
        )
        conn.execute(
            "INSERT INTO product_facility (facility_id, product_id, inventory_item_id) "
            "SELECT facility_id, product_id, inventory_item_id FROM inventory_item"
        )
        create_baseline_tables(conn)
        # No ANALYZE: the statistics are what a user's database has right after a load.


def new_database(name: str) -> None:
    """An empty, migrated database `name` (dropped first if it exists)."""
    drop_database(name)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    db = Database(url(name))
    migrate.upgrade(db.engine)
    db.dispose()


def create_baseline_tables(conn: psycopg.Connection[Any]) -> None:
    """pgbench's copy of the items (ids I000000…, one per product P000000…), its own detail and
    reservation tables: the baseline writes no ledger rows of ours."""
    conn.execute("CREATE TABLE bench_item (LIKE inventory_item INCLUDING ALL)")
    conn.execute(
        "INSERT INTO bench_item SELECT * FROM inventory_item"
        " WHERE facility_id = 'F1' AND product_id ~ '^P[0-9]{6}$'"
    )
    conn.execute("UPDATE bench_item SET inventory_item_id = 'I' || substr(product_id, 2)")
    conn.execute(
        "CREATE TABLE bench_detail (id bigserial PRIMARY KEY, facility_id text, inventory_item_id text,"
        " atp_diff bigint, reason text, effective_date timestamp)"
    )
    conn.execute(
        "CREATE TABLE bench_reservation (id bigserial PRIMARY KEY, facility_id text, order_id text,"
        " inventory_item_id text, quantity bigint, reserved_datetime timestamp)"
    )


def count_mismatches(name: str | None = None) -> int:
    """verify: items whose totals differ from the sum of their ledger rows."""
    db = Database(url(name or NAME))
    with db.reading() as session:
        mismatches = len(find_mismatches(session))
    db.dispose()
    return mismatches


def reserve_line(db: Database, order_id: str, facility_id: str, line: ReserveLine) -> ReserveOutcome:
    """One order item as POST /v1/reservations (no Idempotency-Key) writes it
    (reservations.service.reserve_line); the benchmark is the entry point, so it owns the
    transaction the service opens when the ledger cannot write the line alone."""
    return service.reserve_line(
        db, order_id, facility_id, line, open_transaction=lambda: command_transaction(db)
    )


def _worker(
    worker: int,
    items: int,
    seconds: float,
    ready: Any,
    counts: "mp.Queue[int]",
    name: str = NAME,
    run: int = 0,
) -> None:
    db = Database(url(name), pool_size=1)
    with db.transaction() as session:  # connected before the clock starts (both pools)
        session.execute(text("SELECT 1"))
    db.run_alone(Statement("SELECT 1", {}))
    rng = random.Random(worker)
    done = 0
    # Every process imported and connected first: with 8 processes on 2 CPUs start-up alone
    # took up to 8 s, which a fixed head start counted as idle benchmark time.
    ready.wait()
    deadline = time.time() + seconds
    while time.time() < deadline:
        product = f"P{rng.randrange(items):06d}"
        reserve_line(db, f"W{run}-{worker}-{done}", "F1", ReserveLine("00001", product, Decimal(1)))
        done += 1
    counts.put(done)
    db.dispose()


def run_ours(workers: int, items: int, seconds: float, name: str | None = None, run: int = 0) -> float:
    """reserve_line tps of `workers` processes on database `name` (default NAME); `run` keeps
    the orderIds of each run of one database apart."""
    ctx = mp.get_context("spawn")
    counts: mp.Queue[int] = ctx.Queue()
    ready = ctx.Barrier(workers)
    args = [(w, items, seconds, ready, counts, name or NAME, run) for w in range(workers)]
    procs = [ctx.Process(target=_worker, args=a) for a in args]
    for p in procs:
        p.start()
    done: list[int] = []
    while len(done) < workers:  # a worker that died (an error in reserve_line) fails the run
        try:
            done.append(counts.get(timeout=1))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed:
                for p in procs:
                    p.terminate()
                raise RuntimeError(
                    f"{len(failed)} worker(s) failed (exit codes {failed}): see their tracebacks"
                ) from None
    for p in procs:
        p.join()
    return sum(done) / seconds


def run_pgbench(
    workers: int, items: int, seconds: float, name: str | None = None, protocol: str = "prepared"
) -> float:
    """pgbench tps of the 5-round-trip script; `protocol` prepared (the best a raw client does,
    the baseline of every RATIO) or simple (the baseline of sessions before 7, for history)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT.format(last=items - 1))
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            protocol,
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-c",
            str(workers),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            "-f",
            script.name,
            name or NAME,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database", default=NAME, help="the benchmark's database (dropped at the end)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="pairs of ours and pgbench, alternating (bench/rounds.py), --seconds split among them",
    )
    args = parser.parse_args()
    each = round_seconds(parser, args.seconds, args.rounds)
    name = args.database
    # `timeout`, kill: end as Ctrl-C does, through the `finally` that drops the database
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    create_database(args.items, name)
    try:
        measure(args, each, name)
    finally:
        drop_database(name)


def measure(args: argparse.Namespace, each: int, name: str) -> None:
    """The rounds on database `name`, their report (stdout and bench/RESULTS.md)."""
    runs = iter(range(args.rounds))
    measured = alternate(
        args.rounds,
        lambda: run_ours(args.workers, args.items, each, name, next(runs)),
        lambda: run_pgbench(args.workers, args.items, each, name),
    )
    simple = run_pgbench(args.workers, args.items, each, name, protocol="simple")
    ours, baseline = statistics.median(measured.ours), statistics.median(measured.baseline)
    mismatches = count_mismatches(name)
    ratio = measured.ratio
    print(f"pgbench -M prepared (5 round trips, {args.workers} clients): {baseline:.0f} tps (median round)")
    print(
        f"pgbench -M simple, the baseline before session 7: {simple:.0f} tps,"
        f" ours' median ÷ it {ours / simple:.3f}"
    )
    print(f"reserve_line via the service layer ({args.workers} processes): {ours:.0f} tps (median round)")
    print(measured.line("tps"))
    print(f"verify: {mismatches} mismatches")
    print(f"RATIO reserve_service {ratio:.3f}")
    with (ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write(
            f"\n## reserve_service — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"`.venv/bin/python bench/reserve_service.py --workers {args.workers} --items {args.items}"
            f" --seconds {args.seconds:g} --rounds {args.rounds}"
            f"{'' if name == NAME else f' --database {name}'}`"
            f" (PostgreSQL 15, same machine; load average at the end {os.getloadavg()[0]:.1f})\n\n"
            f"| run | tps |\n|---|---|\n"
            f"| pgbench -M prepared: BEGIN; guarded UPDATE; 2 INSERTs; COMMIT, {args.workers} clients "
            f"| {baseline:.0f} |\n"
            f"| pgbench -M simple (before session 7, one round; ours' median ÷ it {ours / simple:.3f})"
            f" | {simple:.0f} |\n"
            f"| reserve_line through the service layer, {args.workers} processes | {ours:.0f} |\n\n"
            f"Medians of {args.rounds} rounds each, {each:g} s a round; {measured.line('tps')}.\n\n"
            f"RATIO reserve_service {ratio:.3f} (target ≥ 0.50); verify: {mismatches} mismatches\n"
        )


if __name__ == "__main__":
    main()
