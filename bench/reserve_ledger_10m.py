"""Benchmark: reservations with a 10,000,000-row ledger vs the same benchmark on an empty ledger.

    .venv/bin/python bench/reserve_ledger_10m.py [--rows 10000000] [--workers 8] [--items 10000]
        [--seconds 5] [--rounds 8] [--reservations 1000000] [--events 1000000] [--keep] [--reuse]

Builds two databases as bench/reserve_service.py builds its one (1 facility, `--items` products
with one item each, one receipt row each): stockledger_bench_ledger_empty stays so, and
stockledger_bench_ledger_big grows to `--rows` InventoryItemDetail rows, consistently and
set-based (INSERT … SELECT from generate_series, in time order so the indexes grow as they
would in service): per item, after its receipt, cycles of receipt (+x on hand, ATP and
accounting), reservation (ATP −x) and issuance (on hand and accounting −x), which sum to zero,
so the item totals stay; `last_detail_seq` moves to the item's last row. It also gets
`--reservations` fulfilled reservation rows and `--events` StockReserved outbox events (the
sequence moved past them). Both databases are VACUUM ANALYZEd and CHECKPOINTed.

Then `--workers` processes, started once, run reserve_service's worker loop (one transaction of
reserve_line for 1 unit of a random product, in a loop) for `--rounds` rounds of `--seconds` on
each database, switching databases together at a barrier in ABBA order (empty, big, big, empty,
…): no start-up between rounds, and drift of the shared machine's load hits both alike. Prints
each round (with the checkpoints the server made during it, and its full-page images and bytes
of WAL per reservation: a checkpoint, any session's, costs the big ledger far more), the
medians and `RATIO reserve_ledger_10m <big/empty>` (target ≥ 0.90), runs verify on both,
appends to bench/RESULTS.md and drops both databases (`--keep` keeps them, `--reuse` measures
the kept big one again without rebuilding it, the empty one made anew; either way the
newest migrations are applied).
"""

import argparse
import multiprocessing as mp
import os
import queue
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from stockledger.core import migrate
from stockledger.core.db import Database
from stockledger.reservations.service import ReserveLine

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reserve_service as bench

EMPTY = "stockledger_bench_ledger_empty"
BIG = "stockledger_bench_ledger_big"
CYCLE = 3  # receipt, reservation, issuance
STEP = 30  # seq numbers per INSERT (300,000 rows with 10,000 items)


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def grow_ledger(name: str, items: int, rows: int, reservations: int, events: int) -> dict[str, float]:
    """`rows` detail rows in all (the receipts included), plus reservation and event rows;
    returns the seconds each step took."""
    per_item = rows // items  # rows per item, its first receipt included
    cycles = (per_item - 1) // CYCLE
    last = 1 + cycles * CYCLE  # the last seq_num of every item
    took: dict[str, float] = {}
    with psycopg.connect(bench.url(name)) as conn:
        conn.execute(  # the receipts of the load came first (while they are the only rows)
            "UPDATE inventory_item_detail SET effective_date = now() - make_interval(secs => %s),"
            " created_stamp = now() - make_interval(secs => %s) WHERE seq_num = 1",
            (last * 600, last * 600),
        )
        began = time.perf_counter()
        # Time order (a chunk of seq numbers at a time, every item in each), indexes in place: they
        # grow as in service. Cycle c of an item: x = 1..7 units (stored in micro-units).
        for first in range(2, last + 1, STEP):
            conn.execute(
                f"""
                INSERT INTO inventory_item_detail (facility_id, inventory_item_id,
                  inventory_item_detail_seq_id, seq_num, effective_date, quantity_on_hand_diff,
                  available_to_promise_diff, accounting_quantity_diff, reason_enum_id, order_id,
                  order_item_seq_id, receipt_id, item_issuance_id, created_stamp)
                SELECT 'F1', 'I' || lpad(i::text, 6, '0'), lpad(n::text, 5, '0'), n, at,
                  CASE k WHEN 0 THEN x WHEN 2 THEN -x ELSE 0 END,
                  CASE k WHEN 0 THEN x WHEN 1 THEN -x ELSE 0 END,
                  CASE k WHEN 0 THEN x WHEN 2 THEN -x ELSE 0 END,
                  CASE k WHEN 0 THEN 'INV_RECEIPT' WHEN 1 THEN 'RESERVATION' ELSE 'ITEM_ISSUANCE' END,
                  CASE WHEN k > 0 THEN 'ORD-' || i || '-' || c END,
                  CASE WHEN k > 0 THEN '00001' END,
                  CASE WHEN k = 0 THEN 'RCPT-' || i || '-' || c END,
                  CASE WHEN k = 2 THEN 'ISS-' || i || '-' || c END,
                  at
                FROM generate_series(%(first)s::int, %(stop)s::int) n,
                  LATERAL (SELECT (n - 2) %% {CYCLE} AS k, (n - 2) / {CYCLE} AS c) v,
                  LATERAL (SELECT (1 + c %% 7) * {bench.MICROS}::bigint AS x) w,
                  generate_series(0, {items - 1}) i,
                  LATERAL (SELECT now() - make_interval(secs => ({last} - n) * 600 + i * 0.01) AS at) t
                """,
                {"first": first, "stop": min(first + STEP - 1, last)},
            )
            conn.commit()
        conn.execute("UPDATE inventory_item SET last_detail_seq = %s", (last,))
        conn.commit()
        took["detail rows"] = time.perf_counter() - began
        began = time.perf_counter()
        per_item_res = max(reservations // items, 1) if reservations else 0
        if per_item_res:
            # The reservation step of the item's first cycles, fulfilled (shipped) since.
            conn.execute(
                f"""
                INSERT INTO order_item_inventory_reservation (facility_id, order_id, order_item_seq_id,
                  inventory_item_id, product_id, quantity, quantity_not_available, reserved_datetime,
                  status_id, status_datetime)
                SELECT 'F1', 'ORD-' || i || '-' || c, '00001', 'I' || lpad(i::text, 6, '0'),
                  'P' || lpad(i::text, 6, '0'), (1 + c % 7) * {bench.MICROS}::bigint, 0,
                  now() - make_interval(secs => ({last} - c * {CYCLE} - 3) * 600),
                  'RES_FULFILLED', now() - make_interval(secs => ({last} - c * {CYCLE} - 4) * 600)
                FROM generate_series(0, {min(per_item_res, cycles) - 1}) c, generate_series(0, {items - 1}) i
                """
            )
        conn.commit()
        took["reservation rows"] = time.perf_counter() - began
        began = time.perf_counter()
        if events:
            conn.execute(
                f"""
                INSERT INTO outbox_event (facility_id, event_seq, event_type, payload, created_stamp)
                SELECT 'F1', e, 'StockReserved',
                  '{{"facilityId":"F1","orderId":"ORD-' || (e % {items}) || '-' || (e / {items})
                  || '","fill":"ALL_OR_NOTHING","productIds":["P' || lpad((e % {items})::text, 6, '0')
                  || '"],"lines":[{{"orderItemSeqId":"00001","productId":"P'
                  || lpad((e % {items})::text, 6, '0')
                  || '","quantityRequested":3,"quantityReserved":3,"quantityNotAvailable":0,'
                  || '"reservations":[{{"inventoryItemId":"I' || lpad((e % {items})::text, 6, '0')
                  || '","quantity":3,"quantityNotAvailable":0}}]}}]}}',
                  now() - make_interval(secs => ({events} - e) * 6)
                FROM generate_series(1, {events}) e
                """
            )
            conn.execute("SELECT setval('outbox_event_seq', %s)", (events,))
        conn.commit()
        took["outbox events"] = time.perf_counter() - began
    return took


def _paired_worker(
    worker: int,
    items: int,
    seconds: float,
    schedule: list[str],
    ready: Any,
    counts: "mp.Queue[tuple[int, int]]",
    run: str,
) -> None:
    """reserve_service's worker loop, on the database of each slot of `schedule` in turn. The
    order ids begin with `run`, the run's own: a `--reuse` run would otherwise reserve an order
    item an earlier run had reserved, for another product (refused: order_item_conflict)."""
    dbs = {name: Database(bench.url(name), pool_size=1) for name in set(schedule)}
    for db in dbs.values():  # connected before the clock starts
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
    rng = random.Random(worker)
    for slot, name in enumerate(schedule):
        db = dbs[name]
        done = 0
        ready.wait()  # every worker starts each slot together
        deadline = time.time() + seconds
        while time.time() < deadline:
            product = f"P{rng.randrange(items):06d}"
            bench.reserve_line(
                db, f"{run}W{worker}-{slot}-{done}", "F1", ReserveLine("00001", product, Decimal(1))
            )
            done += 1
        counts.put((slot, done))
    for db in dbs.values():
        db.dispose()


@dataclass(frozen=True, slots=True)
class Round:
    """One slot of the schedule: its tps, the load average when it ended, and the server's
    checkpoints and WAL while it ran (server-wide: other sessions' too, as on the machine). The
    checkpoint counter moves when a checkpoint ends; the full pages show when one began."""

    tps: float
    load: str
    checkpoints: int  # checkpoints the server finished during the round (any cause, any session)
    fpi: float  # full-page images written to the WAL, per reservation of the round
    wal: float  # WAL bytes, per reservation of the round


def server_counters(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    """Checkpoints so far (timed and requested), full-page images and bytes of WAL."""
    row = conn.execute(
        "SELECT checkpoints_timed + checkpoints_req, wal_fpi, wal_bytes::bigint"
        " FROM pg_stat_bgwriter, pg_stat_wal"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def run_paired(workers: int, items: int, seconds: float, schedule: list[str]) -> list[Round]:
    """reserve_line tps per slot of `schedule`: the same `workers` processes, started once,
    switch databases every `seconds` (no start-up between rounds; drift of the machine's load
    hits both databases alike), with the load average when each slot ended and the server's
    checkpoints and WAL during it: after a checkpoint begins, the first change of each page
    writes the whole page to the WAL, and the big ledger's hot pages (the last index page of
    each item, in three indexes) are many more than the empty one's."""
    ctx = mp.get_context("spawn")
    counts: mp.Queue[tuple[int, int]] = ctx.Queue()
    ready = ctx.Barrier(workers)
    run = f"R{time.time_ns() // 1_000_000:x}-"  # this run's order ids (the databases may be reused)
    procs = [
        ctx.Process(target=_paired_worker, args=(w, items, seconds, schedule, ready, counts, run))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    done = [0] * len(schedule)
    reported = [0] * len(schedule)
    rounds: list[Round] = []
    with psycopg.connect(bench.ADMIN, autocommit=True) as conn:
        before = server_counters(conn)  # a round ends when its last count comes: the next begins
        while sum(reported) < workers * len(schedule):
            try:
                slot, count = counts.get(timeout=1)
            except queue.Empty:
                failed = [proc.exitcode for proc in procs if proc.exitcode not in (None, 0)]
                if failed:
                    for proc in procs:
                        proc.terminate()
                    raise RuntimeError(f"{len(failed)} worker(s) failed (exit codes {failed})") from None
                continue
            done[slot] += count
            reported[slot] += 1
            if reported[slot] == workers:
                after = server_counters(conn)
                n = max(done[slot], 1)
                rounds.append(
                    Round(
                        done[slot] / seconds,
                        load(),
                        after[0] - before[0],
                        (after[1] - before[1]) / n,
                        (after[2] - before[2]) / n,
                    )
                )
                before = after
                r = rounds[-1]
                label = "big" if schedule[slot] == BIG else "empty"
                print(
                    f"round {slot + 1}: {label} {r.tps:.0f} tps (load {r.load}; checkpoints {r.checkpoints},"
                    f" per reservation {r.fpi:.2f} full pages, {r.wal:.0f} B of WAL)",
                    flush=True,
                )
    for proc in procs:
        proc.join()
    return rounds


def settle(name: str) -> float:
    """VACUUM ANALYZE, then CHECKPOINT: no autovacuum or checkpoint of the build during a round."""
    began = time.perf_counter()
    with psycopg.connect(bench.url(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - began


def exists(name: str) -> bool:
    with psycopg.connect(bench.ADMIN) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def sizes(name: str) -> tuple[int, str]:
    with psycopg.connect(bench.url(name)) as conn:
        row = conn.execute(
            "SELECT count(*), pg_size_pretty(pg_database_size(current_database())) FROM inventory_item_detail"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--reservations", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="do not drop the databases at the end")
    parser.add_argument("--reuse", action="store_true", help="measure the databases an earlier --keep left")
    args = parser.parse_args()
    started = time.perf_counter()
    took: dict[str, float] = {}
    if args.reuse and all(exists(name) for name in (EMPTY, BIG)):
        print(f"reusing {BIG} (built by an earlier run with --keep); {EMPTY} made again")
        # The empty ledger made again (2 s): a run adds some 100,000 rows to each database, which
        # the big one hardly notices and the empty one would keep (500,000 rows after five runs).
        bench.create_database(args.items, EMPTY)
    else:
        bench.create_database(args.items, EMPTY)
        bench.create_database(args.items, BIG)
        took = grow_ledger(BIG, args.items, args.rows, args.reservations, args.events)
    for name in (EMPTY, BIG):  # the service as it is now: its newest migrations too
        db = Database(bench.url(name))
        migrate.upgrade(db.engine)
        db.dispose()
    took["VACUUM ANALYZE + CHECKPOINT"] = settle(BIG)
    settle(EMPTY)
    built = {name: sizes(name) for name in (EMPTY, BIG)}
    for step, seconds in took.items():
        print(f"build {step}: {seconds:.1f} s")
    print(f"ledger rows / database size: empty {built[EMPTY]}, big {built[BIG]}")

    schedule = ([EMPTY, BIG, BIG, EMPTY] * ((args.rounds + 1) // 2))[: 2 * args.rounds]
    tps: dict[str, list[float]] = {EMPTY: [], BIG: []}
    measured = run_paired(args.workers, args.items, args.seconds, schedule)
    rounds = list(zip(schedule, measured, strict=True))
    for name, measure in rounds:
        tps[name].append(measure.tps)
    empty, big = statistics.median(tps[EMPTY]), statistics.median(tps[BIG])
    mismatches = {name: bench.count_mismatches(name) for name in (EMPTY, BIG)}
    ratio = big / empty
    # Each ABBA block (empty, big, big, empty) on its own: big/empty within 4 neighbouring rounds.
    blocks = [
        (rounds[n + 1][1].tps + rounds[n + 2][1].tps) / (rounds[n][1].tps + rounds[n + 3][1].tps)
        for n in range(0, len(rounds) - 3, 4)
    ]
    block_text = ", ".join(f"{b:.2f}" for b in blocks)
    print(f"median reserve_line tps, empty ledger: {empty:.0f}; {built[BIG][0]:,}-row ledger: {big:.0f}")
    print(f"big/empty per ABBA block: {block_text}")
    print(f"verify: empty {mismatches[EMPTY]} mismatches, big {mismatches[BIG]} mismatches")
    print(f"RATIO reserve_ledger_10m {ratio:.3f}")

    command = (
        f".venv/bin/python bench/reserve_ledger_10m.py --rows {args.rows} --workers {args.workers}"
        f" --items {args.items} --seconds {args.seconds:g} --rounds {args.rounds}"
        f" --reservations {args.reservations} --events {args.events}"
        + (" --keep" if args.keep else "")
        + (" --reuse" if args.reuse else "")
    )
    lines = [
        f"\n## reserve_ledger_10m — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
        f"`{command}` (PostgreSQL 15, same 2-CPU machine; {time.perf_counter() - started:.0f} s in all)\n",
        (
            "Build of the big ledger (set-based INSERT … SELECT, indexes in place, rows in time order): "
            if "detail rows" in took
            else "Databases reused from an earlier `--keep` run (`--reuse`); this run: "
        )
        + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in took.items())
        + f". Ledger rows / database size: empty {built[EMPTY][0]:,} / {built[EMPTY][1]},"
        f" big {built[BIG][0]:,} / {built[BIG][1]}.\n",
        f"{args.workers} processes started once, switching database every {args.seconds:g} s (ABBA order):\n",
        "| round | ledger | reserve_line tps | load avg (1/5/15 min) | checkpoints | full pages / res. |"
        " WAL B / res. |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {n} | {'big' if name == BIG else 'empty'} | {r.tps:.0f} | {r.load} | {r.checkpoints} |"
            f" {r.fpi:.2f} | {r.wal:.0f} |"
            for n, (name, r) in enumerate(rounds, 1)
        ),
        "",
        f"Medians: empty {empty:.0f} tps, big {big:.0f} tps"
        f" (totals over the rounds, big/empty: {sum(tps[BIG]) / sum(tps[EMPTY]):.3f};"
        f" per ABBA block of 4 neighbouring rounds: {block_text}).\n",
        f"RATIO reserve_ledger_10m {ratio:.3f} (target ≥ 0.90); verify: empty {mismatches[EMPTY]},"
        f" big {mismatches[BIG]} mismatches\n",
    ]
    with (bench.ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write("\n".join(lines))
    if not args.keep:
        bench.drop_database(EMPTY)
        bench.drop_database(BIG)


if __name__ == "__main__":
    main()
