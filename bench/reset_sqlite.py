"""Benchmark: `stockledger reset FILE.csv` on a SQLite file, against plain sqlite3 doing the same work.

    .venv/bin/python bench/reset_sqlite.py [--lines 100000] [--facilities 10]

Builds a SQLite file migrated with the app's migrations, with the facilities and products (no
stock), as bench/reset_1m.py builds its PostgreSQL database. Then, as reset_1m does:
  * an initial load (every line creates its facility item) by the CLI, a subprocess, start
    included; and the same load by plain sqlite3 on a copy of the file made before it;
  * a sync that changes every line (half by quantityOnHand, half by availableToPromise) by the
    CLI; and the same sync by plain sqlite3 on a copy of the file as it was before our sync.
The baseline is Python's sqlite3 module with the app's pragmas (WAL, synchronous=NORMAL,
foreign keys), set-based in one transaction: the CSV read by the csv module into a temporary
table (executemany), then for the sync UPDATE … FROM of the totals and INSERT … SELECT of the
detail rows, for the initial load INSERT … SELECT of the links, items and detail rows; the audit
row. It writes no InventoryChanged events (ours writes one per facility per batch) and judges no
line (every line is valid), as reset_1m's baseline.
Prints `RATIO reset_sqlite <baseline/ours>` for the sync (target ≥ 0.30; higher is better, as
reserve_sqlite's), `RATIO reset_sqlite_initial` for the load, the CPU seconds of each (the child's
user+system, the baseline's process time: steadier than wall time on a loaded machine), verify's
mismatches on our file, and appends to bench/RESULTS.md.
"""

import argparse
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from reset_1m import compile_bytecode, timed_reset, write_csv

from stockledger.core import migrate
from stockledger.core.db import Database

ROOT = Path(__file__).resolve().parents[1]
STOCKLEDGER = Path(sys.executable).parent / "stockledger"
MICROS = 1_000_000


def stamp() -> str:
    """Now as SQLAlchemy stores a naive UTC DateTime on SQLite."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def connect(path: Path) -> sqlite3.Connection:
    """A connection set up as core/db.py sets up the app's (autocommit mode, BEGIN IMMEDIATE)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def create_database(path: Path, products: int, facilities: int) -> None:
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    now = stamp()
    conn = connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO facility (facility_id, facility_name, costing_method_id, created_stamp) "
        "VALUES (?, ?, 'FIFO', ?)",
        [(f"F{n:02d}", f"Bench {n}", now) for n in range(1, facilities + 1)],
    )
    conn.executemany(
        "INSERT INTO product (product_id, product_name, created_stamp) VALUES (?, ?, ?)",
        [(f"P{n:06d}", f"Product {n}", now) for n in range(products)],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def copy_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(source, target)


def run_cli(path: Path, csv_file: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one `stockledger reset` child."""
    return timed_reset(f"sqlite:///{path}", csv_file)


def _micros(text: str) -> int | None:
    return round(float(text) * MICROS) if text else None


def load_lines(conn: sqlite3.Connection, csv_file: Path) -> None:
    conn.execute("CREATE TEMP TABLE reset_in (facility_id TEXT, product_id TEXT, qoh INTEGER, atp INTEGER)")
    with csv_file.open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        conn.executemany(
            "INSERT INTO reset_in VALUES (?, ?, ?, ?)",
            ((r[0], r[1], _micros(r[2]), _micros(r[3])) for r in rows),
        )


# The totals per facility and product summed through ix_inventory_item_facility_product for each
# line, and the diffs indexed by item: SQLite joins by nested loops, so reset_1m's GROUP BY
# subquery (a scan of the lines per group) and an UPDATE … FROM without that index each took
# over a minute for 20,000 lines, where PostgreSQL hashes both sides.
SYNC_SQL = [
    """CREATE TEMP TABLE reset_diff AS
       SELECT r.facility_id, pf.inventory_item_id,
              CASE WHEN r.qoh IS NOT NULL
                   THEN r.qoh - (SELECT sum(i.quantity_on_hand_total) FROM inventory_item i
                                 WHERE i.facility_id = r.facility_id AND i.product_id = r.product_id)
                   ELSE r.atp - (SELECT sum(i.available_to_promise_total) FROM inventory_item i
                                 WHERE i.facility_id = r.facility_id AND i.product_id = r.product_id)
              END AS diff
       FROM reset_in r
       JOIN product_facility pf ON pf.facility_id = r.facility_id AND pf.product_id = r.product_id""",
    "CREATE UNIQUE INDEX temp.reset_diff_item ON reset_diff (facility_id, inventory_item_id)",
    "DELETE FROM reset_diff WHERE diff = 0",
    """UPDATE inventory_item
       SET quantity_on_hand_total = quantity_on_hand_total + d.diff,
           available_to_promise_total = available_to_promise_total + d.diff,
           accounting_quantity_total = accounting_quantity_total + d.diff,
           last_detail_seq = last_detail_seq + 1
       FROM reset_diff d
       WHERE inventory_item.facility_id = d.facility_id
         AND inventory_item.inventory_item_id = d.inventory_item_id""",
    """INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,
         seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, accounting_quantity_diff,
         reason_enum_id, inventory_reset_id, created_stamp)
       SELECT i.facility_id, i.inventory_item_id, printf('%05d', i.last_detail_seq), i.last_detail_seq,
              :now, d.diff, d.diff, d.diff, 'VAR_EXT_RESET', 'BASELINE', :now
       FROM reset_diff d JOIN inventory_item i
         ON i.facility_id = d.facility_id AND i.inventory_item_id = d.inventory_item_id""",
    """INSERT INTO external_inventory_reset (inventory_reset_id, source, lines_total, lines_changed,
         lines_unchanged, lines_failed, created_stamp)
       SELECT 'BASELINE', 'baseline', (SELECT count(*) FROM reset_in), (SELECT count(*) FROM reset_diff),
              (SELECT count(*) FROM reset_in) - (SELECT count(*) FROM reset_diff), 0, :now""",
]

INITIAL_SQL = [
    """INSERT INTO product_facility (facility_id, product_id, inventory_item_id)
       SELECT facility_id, product_id, 'BI' || facility_id || product_id FROM reset_in""",
    """INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id,
         status_id, quantity_on_hand_total, available_to_promise_total, accounting_quantity_total,
         last_detail_seq, created_stamp)
       SELECT facility_id, 'BI' || facility_id || product_id, 'NON_SERIAL_INV_ITEM', product_id,
              'INV_AVAILABLE', qoh, qoh, qoh, 1, :now
       FROM reset_in""",
    """INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,
         seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, accounting_quantity_diff,
         reason_enum_id, inventory_reset_id, created_stamp)
       SELECT facility_id, 'BI' || facility_id || product_id, '00001', 1, :now, qoh, qoh, qoh,
              'VAR_EXT_RESET', 'BASELINE_INITIAL', :now
       FROM reset_in""",
    """INSERT INTO external_inventory_reset (inventory_reset_id, source, lines_total, lines_changed,
         lines_unchanged, lines_failed, created_stamp)
       SELECT 'BASELINE_INITIAL', 'baseline', count(*), count(*), 0, 0, :now FROM reset_in""",
]


def run_baseline(path: Path, csv_file: Path, statements: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the same reset by plain sqlite3, connection included."""
    started, cpu = time.perf_counter(), time.process_time()
    conn = connect(path)
    conn.execute("BEGIN IMMEDIATE")
    load_lines(conn, csv_file)
    now = stamp()
    for sql in statements:
        conn.execute(sql, {"now": now} if ":now" in sql else {})
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started, time.process_time() - cpu


def totals(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT sum(quantity_on_hand_total), sum(available_to_promise_total) FROM inventory_item"
        )
        qoh, atp = row.fetchone()
    conn.close()
    return int(qoh), int(atp)


def verify_mismatches(path: Path) -> str:
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": f"sqlite:///{path}"}
    done = subprocess.run([str(STOCKLEDGER), "verify"], env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("verify:")]
    return "; ".join(lines) + f" (exit {done.returncode})"


def append_results(command: str, lines: int, facilities: int, r: dict[str, float], verified: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    with path.open("a") as f:
        f.write(
            f"\n## reset_sqlite — {when}\n\n"
            f"`{command}` (SQLite file, {lines:,} lines over {facilities} facilities; loaded machine: "
            f"load average {load[0]:.1f} (5 min {load[1]:.1f}))\n\n"
            "| run | wall s | CPU s | peak RSS MiB |\n|---|---|---|---|\n"
            f"| `stockledger reset` initial load (creates every facility item) | {r['initial']:.2f} | "
            f"{r['initial_cpu']:.2f} | {r['initial_rss'] / 1024:.0f} |\n"
            f"| sqlite3 baseline of the initial load | {r['initial_base']:.2f} | "
            f"{r['initial_base_cpu']:.2f} | – |\n"
            f"| `stockledger reset` sync (every line changes) | {r['sync']:.2f} | {r['sync_cpu']:.2f} | "
            f"{r['sync_rss'] / 1024:.0f} |\n"
            f"| sqlite3 baseline of the same sync | {r['sync_base']:.2f} | {r['sync_base_cpu']:.2f} | – |\n\n"
            f"RATIO reset_sqlite {r['sync_base'] / r['sync']:.3f} (baseline / ours, sync; target ≥ 0.30; "
            f"CPU {r['sync_base_cpu'] / r['sync_cpu']:.3f})\n\n"
            f"RATIO reset_sqlite_initial {r['initial_base'] / r['initial']:.3f} (baseline / ours; "
            f"CPU {r['initial_base_cpu'] / r['initial_cpu']:.3f})\n\n"
            f"{verified}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--facilities", type=int, default=10)
    parser.add_argument("--no-compile", action="store_true", help="skip byte-compiling (done once already)")
    args = parser.parse_args()
    products = args.lines // args.facilities
    lines = products * args.facilities
    if not args.no_compile:
        compile_bytecode()
    r: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ours, base = Path(tmp) / "ours.db", Path(tmp) / "base.db"
        initial, sync = Path(tmp) / "initial.csv", Path(tmp) / "sync.csv"
        create_database(ours, products, args.facilities)
        write_csv(initial, products, args.facilities, sync=False)
        write_csv(sync, products, args.facilities, sync=True)
        copy_database(ours, base)
        r["initial_base"], r["initial_base_cpu"] = run_baseline(base, initial, INITIAL_SQL)
        r["initial"], r["initial_cpu"], r["initial_rss"] = run_cli(ours, initial)
        assert totals(ours) == totals(base), "ours and the baseline disagree on the loaded totals"
        copy_database(ours, base)
        r["sync_base"], r["sync_base_cpu"] = run_baseline(base, sync, SYNC_SQL)
        r["sync"], r["sync_cpu"], r["sync_rss"] = run_cli(ours, sync)
        assert totals(ours) == totals(base), "ours and the baseline disagree on the synced totals"
        verified = verify_mismatches(ours)
    for name in ("initial", "sync"):
        print(
            f"{name}: ours {r[name]:.2f} s ({r[name + '_cpu']:.2f} s CPU), "
            f"sqlite3 {r[name + '_base']:.2f} s ({r[name + '_base_cpu']:.2f} s CPU)"
        )
    print(verified)
    print(f"RATIO reset_sqlite {r['sync_base'] / r['sync']:.3f}")
    print(f"RATIO reset_sqlite_initial {r['initial_base'] / r['initial']:.3f}")
    append_results(
        " ".join(["python bench/reset_sqlite.py", *sys.argv[1:]]), lines, args.facilities, r, verified
    )


if __name__ == "__main__":
    main()
