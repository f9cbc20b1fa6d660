"""Benchmark: reservations on SQLite, service layer vs raw sqlite3 doing the same transaction.

    .venv/bin/python bench/reserve_sqlite.py [--items 10000] [--seconds 3] [--rounds 8]
    .venv/bin/python bench/reserve_sqlite.py --profile 3000   # where the time goes, no RESULTS.md

Builds a SQLite file migrated with the app's migrations, with 1 facility and `--items` products
holding one item each (a receipt row each, as bench/reserve_service.py loads PostgreSQL), and a
copy of that file. Then, in one process, `--rounds` rounds of each in ABBA order (raw, ours,
ours, raw, …), each `--seconds` long:
  * ours: `with db.transaction() as s: reserve_stock(s, …)` for 1 unit of a random product
    (what POST /v1/reservations does, without HTTP) on the first file;
  * raw: the sqlite3 module on the copy, with the pragmas read from a connection the app opens
    (WAL, synchronous=NORMAL, foreign keys, busy timeout, …; autocommit mode and BEGIN IMMEDIATE
    as core/db.py does), writing the same rows to the
    same tables: BEGIN IMMEDIATE; guarded UPDATE … RETURNING of the item's ATP and detail seq;
    INSERT the detail row; INSERT the reservation row; INSERT the StockReserved outbox event
    (numbered max + 1); COMMIT. It goes to the item by id (as the pgbench script of
    reserve_service does) where ours looks the product's items up.
Prints each round, the medians and `RATIO reserve_sqlite <ours/raw>` (target ≥ 0.30), runs
verify on both files, appends to bench/RESULTS.md and deletes the files.

With `--profile N`: N reservations through the service layer under cProfile (after 300 warm-up
ones), statements per reservation, and the top functions by own and cumulative time.
"""

import argparse
import collections
import cProfile
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event

from stockledger.core import migrate
from stockledger.core.db import Database
from stockledger.ledger.verify import find_mismatches
from stockledger.reservations.service import ReserveLine, reserve_stock

ROOT = Path(__file__).resolve().parents[1]
STOCK = 1_000_000  # units per item: no reservation is ever refused during the run
MICROS = 1_000_000


def stamp() -> str:
    """Now as SQLAlchemy stores a naive UTC DateTime on SQLite."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def create_database(path: Path, items: int) -> None:
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    now = stamp()
    total = STOCK * MICROS
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO facility (facility_id, costing_method_id, created_stamp) VALUES ('F1', 'FIFO', ?)",
        (now,),
    )
    conn.executemany(
        "INSERT INTO product (product_id, created_stamp) VALUES (?, ?)",
        ((f"P{n:06d}", now) for n in range(items)),
    )
    conn.executemany(
        "INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id,"
        " status_id, datetime_received, quantity_on_hand_total, available_to_promise_total,"
        " accounting_quantity_total, last_detail_seq, created_stamp) "
        "VALUES ('F1', ?, 'NON_SERIAL_INV_ITEM', ?, 'INV_AVAILABLE', ?, ?, ?, ?, 1, ?)",
        ((f"I{n:06d}", f"P{n:06d}", now, total, total, total, now) for n in range(items)),
    )
    conn.execute(
        "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,"
        " seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff,"
        " accounting_quantity_diff, reason_enum_id, created_stamp) "
        "SELECT facility_id, inventory_item_id, '00001', 1, ?, quantity_on_hand_total,"
        " available_to_promise_total, accounting_quantity_total, 'INV_RECEIPT', ? FROM inventory_item",
        (now, now),
    )
    conn.execute(
        "INSERT INTO product_facility (facility_id, product_id, inventory_item_id) "
        "SELECT facility_id, product_id, inventory_item_id FROM inventory_item"
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def count_mismatches(path: Path) -> int:
    db = Database(f"sqlite:///{path}")
    with db.reading() as session:
        mismatches = len(find_mismatches(session))
    db.dispose()
    return mismatches


class Ours:
    """reserve_stock through the service layer, one transaction per reservation."""

    def __init__(self, path: Path, items: int) -> None:
        self.db = Database(f"sqlite:///{path}", pool_size=1)
        self.items = items
        self.rng = random.Random(1)
        self.done = 0

    def reserve(self) -> None:
        product = f"P{self.rng.randrange(self.items):06d}"
        with self.db.transaction() as session:
            reserve_stock(session, f"OURS-{self.done}", "F1", [ReserveLine("00001", product, Decimal(1))])
        self.done += 1


_UPDATE = (
    "UPDATE inventory_item SET available_to_promise_total = available_to_promise_total - ?,"
    " last_detail_seq = last_detail_seq + 1"
    " WHERE facility_id = 'F1' AND inventory_item_id = ? AND available_to_promise_total >= ?"
    " RETURNING last_detail_seq"
)
_DETAIL = (
    "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,"
    " seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, accounting_quantity_diff,"
    " reason_enum_id, order_id, order_item_seq_id, created_stamp)"
    " VALUES ('F1', ?, ?, ?, ?, 0, ?, 0, 'RESERVATION', ?, '00001', ?)"
)
_RESERVATION = (
    "INSERT INTO order_item_inventory_reservation (facility_id, order_id, order_item_seq_id,"
    " inventory_item_id, product_id, quantity, quantity_not_available, reserved_datetime, status_id,"
    " status_datetime) VALUES ('F1', ?, '00001', ?, ?, ?, 0, ?, 'RES_ACTIVE', ?)"
)
_EVENT = (
    "INSERT INTO outbox_event (facility_id, event_seq, event_type, payload, created_stamp)"
    " VALUES ('F1', (SELECT coalesce(max(event_seq), 0) + 1 FROM outbox_event), 'StockReserved', ?, ?)"
)


PRAGMAS = (
    "journal_mode",
    "synchronous",
    "foreign_keys",
    "busy_timeout",
    "wal_autocheckpoint",
    "cache_size",
    "mmap_size",
    "temp_store",
    "locking_mode",
)


def app_pragmas(path: Path) -> dict[str, str]:
    """The settings of a connection the app opens (core/db.py), to give the raw connection the same."""
    db = Database(f"sqlite:///{path}", pool_size=1)
    with db.engine.connect() as conn:
        found = {name: str(conn.exec_driver_sql(f"PRAGMA {name}").scalar()) for name in PRAGMAS}
    db.dispose()
    return found


class Raw:
    """The same transaction with the sqlite3 module and hand-written SQL."""

    def __init__(self, path: Path, items: int) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.pragmas = app_pragmas(path)
        for name, value in self.pragmas.items():
            self.conn.execute(f"PRAGMA {name}={value}")
        self.items = items
        self.rng = random.Random(1)
        self.done = 0

    def reserve(self) -> None:
        n = self.rng.randrange(self.items)
        item, product, order = f"I{n:06d}", f"P{n:06d}", f"RAW-{self.done}"
        now = stamp()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(_UPDATE, (MICROS, item, MICROS)).fetchone()
            if row is None:
                raise RuntimeError(f"{item}: not enough ATP")
            seq = row[0]
            conn.execute(_DETAIL, (item, f"{seq:05d}", seq, now, -MICROS, order, now))
            conn.execute(_RESERVATION, (order, item, product, MICROS, now, now))
            payload = json.dumps(
                {
                    "facilityId": "F1",
                    "orderId": order,
                    "fill": "ALL_OR_NOTHING",
                    "productIds": [product],
                    "lines": [
                        {
                            "orderItemSeqId": "00001",
                            "productId": product,
                            "quantityRequested": 1,
                            "quantityReserved": 1,
                            "quantityNotAvailable": 0,
                            "reservations": [
                                {"inventoryItemId": item, "quantity": 1, "quantityNotAvailable": 0}
                            ],
                        }
                    ],
                },
                separators=(",", ":"),
            )
            conn.execute(_EVENT, (payload, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.done += 1

    def close(self) -> None:
        self.conn.close()


def run_for(reserve: Callable[[], None], seconds: float) -> float:
    """Reservations per second of `reserve` called in a loop for `seconds`."""
    done = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        reserve()
        done += 1
    return done / (time.perf_counter() - began)


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


# The steps of a reservation worth a line each in the profile summary.
WATCH = {
    "reserve_stock",
    "lock_candidates",
    "_write",
    "post_locked",
    "post",
    "record_event",
    "upsert_reservations",
    "next_value_expression",
    "<method 'commit' of 'sqlite3.Connection' objects>",
    "<method 'execute' of 'sqlite3.Cursor' objects>",
    "dumps",
}
WATCH_IN = {
    ("orm/session.py", "commit"),
    ("orm/session.py", "close"),
    ("orm/session.py", "execute"),
    ("orm/session.py", "begin"),
    ("core/db.py", "transaction"),
    ("engine/base.py", "_execute_context"),
    ("engine/default.py", "_init_compiled"),
    ("engine/cursor.py", "_init_metadata"),
}


def profile(path: Path, items: int, count: int) -> None:
    ours = Ours(path, items)
    statements: collections.Counter[str] = collections.Counter()

    def _count(_conn: Any, _cur: Any, sql: str, _params: Any, _context: Any, _many: bool) -> None:
        statements[" ".join(sql.split())[:100]] += 1

    for _ in range(300):  # warm-up
        ours.reserve()
    event.listen(ours.db.engine, "before_cursor_execute", _count)
    for _ in range(300):
        ours.reserve()
    event.remove(ours.db.engine, "before_cursor_execute", _count)
    began = time.perf_counter()
    for _ in range(count):
        ours.reserve()
    plain = (time.perf_counter() - began) / count
    prof = cProfile.Profile()
    began = time.perf_counter()
    prof.enable()
    for _ in range(count):
        ours.reserve()
    prof.disable()
    profiled = (time.perf_counter() - began) / count
    print(
        f"{plain * 1000:.3f} ms per reservation without the profiler, {profiled * 1000:.3f} ms under cProfile"
    )
    print(
        f"{sum(statements.values()) / 300:.1f} statements per reservation"
        " (BEGIN IMMEDIATE included; COMMIT is sqlite3's commit()):"
    )
    for sql, n in statements.most_common():
        print(f"  {n / 300:4.1f}  {sql}")
    stats = pstats.Stats(prof)
    print("ms per reservation under cProfile, cumulative, in functions named:")
    table: Any = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    for (file, line, name), (_cc, calls, own, cumulative, _callers) in sorted(
        table.items(), key=lambda kv: -kv[1][3]
    ):
        if name in WATCH or any(f"/{part}" in file and name == fn for part, fn in WATCH_IN):
            where = f"{Path(file).name}:{line}" if line else "C"
            print(
                f"  {cumulative / count * 1000:7.3f}  {own / count * 1000:7.3f} own"
                f"  {calls / count:4.1f}×  {name} ({where})"
            )
    stats.sort_stats("tottime").print_stats(35)
    stats.sort_stats("cumulative").print_stats(60)
    ours.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N reservations instead")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="stockledger_bench_sqlite_"))
    try:
        ours_path, raw_path = workdir / "ours.db", workdir / "raw.db"
        create_database(ours_path, args.items)
        if args.profile:
            profile(ours_path, args.items, args.profile)
            return
        shutil.copyfile(ours_path, raw_path)
        ours, raw = Ours(ours_path, args.items), Raw(raw_path, args.items)
        for _ in range(200):  # warm-up: imports, compiled caches, the files in the page cache
            ours.reserve()
            raw.reserve()
        results: dict[str, list[float]] = {"ours": [], "raw": []}
        rounds: list[tuple[str, float, str]] = []
        for name in ["raw", "ours", "ours", "raw"] * ((args.rounds + 1) // 2):
            if len(results[name]) == args.rounds:
                continue
            value = run_for(ours.reserve if name == "ours" else raw.reserve, args.seconds)
            results[name].append(value)
            rounds.append((name, value, load()))
            print(f"round {len(rounds)}: {name} {value:.0f} tps (load {load()})")
        ours.db.dispose()
        raw.close()
        pragmas = raw.pragmas
        ours_tps, raw_tps = statistics.median(results["ours"]), statistics.median(results["raw"])
        mismatches = {"ours": count_mismatches(ours_path), "raw": count_mismatches(raw_path)}
        ratio = ours_tps / raw_tps
        print(
            f"median tps: raw sqlite3 {raw_tps:.0f} ({1000 / raw_tps:.3f} ms each),"
            f" reserve_stock {ours_tps:.0f} ({1000 / ours_tps:.3f} ms each)"
        )
        print(f"verify: ours {mismatches['ours']} mismatches, raw {mismatches['raw']} mismatches")
        print(f"RATIO reserve_sqlite {ratio:.3f}")
        command = (
            f".venv/bin/python bench/reserve_sqlite.py --items {args.items} --seconds {args.seconds:g}"
            f" --rounds {args.rounds}"
        )
        lines = [
            f"\n## reserve_sqlite — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
            f"`{command}` (SQLite {sqlite3.sqlite_version} file; both connections with the app's pragmas:"
            f" {', '.join(f'{k}={v}' for k, v in pragmas.items())}; one process; same 2-CPU machine,"
            " shared)\n",
            "| round | run | tps | load avg (1/5/15 min) |",
            "|---|---|---|---|",
            *(f"| {n} | {name} | {value:.0f} | {avg} |" for n, (name, value, avg) in enumerate(rounds, 1)),
            "",
            f"Medians: raw sqlite3 (BEGIN IMMEDIATE; guarded UPDATE … RETURNING; INSERT detail; INSERT"
            f" reservation; INSERT outbox event; COMMIT) {raw_tps:.0f} tps ({1000 / raw_tps:.3f} ms each);"
            f" reserve_stock through the service layer {ours_tps:.0f} tps ({1000 / ours_tps:.3f} ms each).\n",
            f"RATIO reserve_sqlite {ratio:.3f} (target ≥ 0.30); verify: ours {mismatches['ours']},"
            f" raw {mismatches['raw']} mismatches\n",
        ]
        with (ROOT / "bench" / "RESULTS.md").open("a") as results_file:
            results_file.write("\n".join(lines))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
