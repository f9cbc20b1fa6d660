"""Benchmark: `stockledger reset FILE.csv` with 1,000,000 lines on PostgreSQL, against raw SQL.

    .venv/bin/python bench/reset_1m.py [--lines 1000000] [--facilities 10]

Creates the database stockledger_bench_reset (and a clone for the baseline), the facilities
and products set-based, then runs the CLI as a subprocess twice, measuring wall time and
peak RSS of the child: an initial load (every facility item is created), then VACUUM ANALYZE
and CHECKPOINT, and a sync that changes every line (half by quantityOnHand, half by
availableToPromise). The baseline applies the same sync file with hand-written SQL in one
transaction (COPY into a temp table, UPDATE … FROM, INSERT … SELECT of the detail rows, the
audit row) on a clone of the database as it was before our sync. Prints
`RATIO reset_1m <ours/baseline>` and appends to bench/RESULTS.md.

Each of the four runs starts right after a CHECKPOINT: the first change to a page after one
writes the whole page to the WAL (a full-page image), and without it the baseline, run on a
clone made after settle()'s CHECKPOINT (CREATE DATABASE … TEMPLATE copies through the WAL),
wrote none where our sync wrote ≈ 10,000 (100k lines: 217 MB of WAL against 124 MB).
"""

import argparse
import compileall
import os
import site
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from stockledger.core import migrate
from stockledger.core.db import Database

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
OURS = "stockledger_bench_reset"
BASE = "stockledger_bench_reset_base"
BASE_INITIAL = "stockledger_bench_reset_base_initial"
ROOT = Path(__file__).resolve().parents[1]
STOCKLEDGER = Path(sys.executable).parent / "stockledger"
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"


def url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def insert_catalogue(conn: psycopg.Connection[Any], products: int, facilities: int) -> None:
    """Facilities F01… and products P000000… (no stock), as the reset benchmarks load them."""
    conn.execute(
        "INSERT INTO facility (facility_id, facility_name, costing_method_id, created_stamp) "
        "SELECT 'F' || lpad(n::text, 2, '0'), 'Bench ' || n, 'FIFO', now() FROM generate_series(1, %s) n",
        (facilities,),
    )
    conn.execute(
        "INSERT INTO product (product_id, product_name, created_stamp) "
        "SELECT 'P' || lpad(n::text, 6, '0'), 'Product ' || n, now() FROM generate_series(0, %s - 1) n",
        (products,),
    )


def create_database(products: int, facilities: int) -> None:
    for name in (OURS, BASE, BASE_INITIAL):
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {OURS}")
    db = Database(url(OURS))
    migrate.upgrade(db.engine)
    db.dispose()
    with psycopg.connect(url(OURS)) as conn:
        insert_catalogue(conn, products, facilities)


def settle(name: str) -> None:
    """VACUUM ANALYZE and CHECKPOINT after the initial load, as autovacuum would have long done
    before the next ERP sync: without it both syncs ran on a table with a dead version of every
    item and no hint bits set (the baseline took 96.9 s there, 53 s on the settled database)."""
    with psycopg.connect(url(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def write_csv(path: Path, products: int, facilities: int, sync: bool) -> None:
    with path.open("w") as f:
        f.write(HEADER)
        for fac in range(1, facilities + 1):
            for n in range(products):
                qty = (n * 7 + fac) % 500 + 1
                if not sync:
                    f.write(f"F{fac:02d},P{n:06d},{qty},\n")
                elif n % 2:
                    f.write(f"F{fac:02d},P{n:06d},{qty + 3},\n")
                else:
                    f.write(f"F{fac:02d},P{n:06d},,{qty - 1}\n")


def compile_bytecode() -> None:
    """Byte-compile the installed packages and src/ once, as an install leaves them (pip compiles
    by default, `uv sync --compile-bytecode` and container builds do): this machine sets
    PYTHONDONTWRITEBYTECODE=1, so without it every child process compiled ~800 modules from source
    (3.4 s of a 4-5 s start under load), a cost no deployed `stockledger reset` pays."""
    for path in [*site.getsitepackages(), str(ROOT / "src")]:
        compileall.compile_dir(path, quiet=2, workers=2)


def run_cli(csv: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `stockledger reset` child."""
    wall, _, rss = timed_reset(url(OURS), csv)
    return wall, rss


def timed_reset(database_url: str, csv: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one `stockledger reset` child on
    `database_url` (bench/reset_sqlite.py's too)."""
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": database_url}
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(STOCKLEDGER), "reset", str(csv)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stockledger reset failed:\n{output}")
    print(" ".join(output.split()))  # the outcome line, which Rich wraps at 80 columns in a pipe
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


BASELINE_SQL = [
    "CREATE TEMP TABLE reset_in (facility_id text, product_id text, qoh numeric, atp numeric) ON COMMIT DROP",
    None,  # COPY
    """CREATE TEMP TABLE reset_diff ON COMMIT DROP AS
       SELECT r.facility_id, pf.inventory_item_id,
              CASE WHEN r.qoh IS NOT NULL THEN (r.qoh * 1000000)::bigint - t.qoh
                   ELSE (r.atp * 1000000)::bigint - t.atp END AS diff
       FROM reset_in r
       JOIN product_facility pf ON pf.facility_id = r.facility_id AND pf.product_id = r.product_id
       JOIN (SELECT facility_id, product_id, sum(quantity_on_hand_total) AS qoh,
                    sum(available_to_promise_total) AS atp
             FROM inventory_item GROUP BY facility_id, product_id) t
         ON t.facility_id = r.facility_id AND t.product_id = r.product_id""",
    "DELETE FROM reset_diff WHERE diff = 0",
    """WITH moved AS (
         UPDATE inventory_item i
         SET quantity_on_hand_total = i.quantity_on_hand_total + d.diff,
             available_to_promise_total = i.available_to_promise_total + d.diff,
             accounting_quantity_total = i.accounting_quantity_total + d.diff,
             last_detail_seq = i.last_detail_seq + 1
         FROM reset_diff d
         WHERE i.facility_id = d.facility_id AND i.inventory_item_id = d.inventory_item_id
         RETURNING i.facility_id, i.inventory_item_id, i.last_detail_seq, d.diff)
       INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,
         seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, accounting_quantity_diff,
         reason_enum_id, inventory_reset_id, created_stamp)
       SELECT facility_id, inventory_item_id, lpad(last_detail_seq::text, 5, '0'), last_detail_seq,
              now(), diff, diff, diff, 'VAR_EXT_RESET', 'BASELINE', now()
       FROM moved""",
    """INSERT INTO external_inventory_reset (inventory_reset_id, source, lines_total, lines_changed,
         lines_unchanged, lines_failed, created_stamp)
       SELECT 'BASELINE', 'baseline', (SELECT count(*) FROM reset_in), (SELECT count(*) FROM reset_diff),
              (SELECT count(*) FROM reset_in) - (SELECT count(*) FROM reset_diff), 0, now()""",
]


# The initial load in hand-written SQL (every line names a product without an item): COPY, the
# ProductFacility links, the items with their totals and their one detail row each, the audit row.
BASELINE_INITIAL_SQL = [
    BASELINE_SQL[0],
    None,  # COPY
    """INSERT INTO product_facility (facility_id, product_id, inventory_item_id)
       SELECT facility_id, product_id, 'BI' || facility_id || product_id FROM reset_in""",
    """INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id,
         status_id, quantity_on_hand_total, available_to_promise_total, accounting_quantity_total,
         last_detail_seq, created_stamp)
       SELECT facility_id, 'BI' || facility_id || product_id, 'NON_SERIAL_INV_ITEM', product_id,
              'INV_AVAILABLE', (qoh * 1000000)::bigint, (qoh * 1000000)::bigint, (qoh * 1000000)::bigint, 1,
              now()
       FROM reset_in""",
    """INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,
         seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, accounting_quantity_diff,
         reason_enum_id, inventory_reset_id, created_stamp)
       SELECT facility_id, 'BI' || facility_id || product_id, '00001', 1, now(), (qoh * 1000000)::bigint,
              (qoh * 1000000)::bigint, (qoh * 1000000)::bigint, 'VAR_EXT_RESET', 'BASELINE_INITIAL', now()
       FROM reset_in""",
    """INSERT INTO external_inventory_reset (inventory_reset_id, source, lines_total, lines_changed,
         lines_unchanged, lines_failed, created_stamp)
       SELECT 'BASELINE_INITIAL', 'baseline', count(*), count(*), 0, 0, now() FROM reset_in""",
]


def run_baseline(csv: Path, database: str = BASE, statements: list[str | None] = BASELINE_SQL) -> float:
    started = time.perf_counter()
    with psycopg.connect(url(database)) as conn, conn.transaction():
        for sql in statements:
            if sql is None:
                with (
                    conn.cursor().copy("COPY reset_in FROM STDIN (FORMAT csv, HEADER true)") as copy,
                    csv.open("rb") as f,
                ):
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
            else:
                conn.execute(sql)
    return time.perf_counter() - started


def qoh_sum(name: str) -> int:
    with psycopg.connect(url(name)) as conn:
        row = conn.execute(
            "SELECT sum(quantity_on_hand_total), sum(available_to_promise_total) FROM inventory_item"
        ).fetchone()
        assert row is not None
        return int(row[0]) * 1_000_003 + int(row[1])


def append_results(lines: int, facilities: int, results: dict[str, float], command: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by the scripts in bench/; newest last.\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with path.open("a") as f:
        f.write(
            f"\n## reset_1m — {stamp}\n\n"
            f"`{command}` (PostgreSQL, {lines:,} lines over {facilities} facilities)\n\n"
            "| run | wall s | peak RSS MiB |\n|---|---|---|\n"
            f"| `stockledger reset` initial load (creates every facility item) | {results['initial']:.1f} | "
            f"{results['initial_rss'] / 1024:.0f} |\n"
            "| raw-SQL baseline of the initial load (COPY, INSERT … SELECT of links, items, detail rows) | "
            f"{results['initial_baseline']:.1f} | – |\n"
            f"| `stockledger reset` sync (every line changes) | {results['sync']:.1f} | "
            f"{results['sync_rss'] / 1024:.0f} |\n"
            "| raw-SQL baseline of the same sync (COPY, UPDATE … FROM, INSERT … SELECT) | "
            f"{results['baseline']:.1f} | – |\n\n"
            f"RATIO reset_1m {results['sync'] / results['baseline']:.2f} (sync / baseline)\n\n"
            f"RATIO reset_1m_initial {results['initial'] / results['initial_baseline']:.2f} "
            "(initial load / its baseline)\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    products = args.lines // args.facilities
    lines = products * args.facilities
    with tempfile.TemporaryDirectory() as tmp:
        initial, sync = Path(tmp) / "initial.csv", Path(tmp) / "sync.csv"
        create_database(products, args.facilities)
        compile_bytecode()
        admin(f"CREATE DATABASE {BASE_INITIAL} TEMPLATE {OURS}")  # the catalogue, no stock yet
        write_csv(initial, products, args.facilities, sync=False)
        write_csv(sync, products, args.facilities, sync=True)
        results: dict[str, float] = {}
        admin("CHECKPOINT")
        results["initial"], results["initial_rss"] = run_cli(initial)
        print(f"initial load: {results['initial']:.1f} s, peak RSS {results['initial_rss'] / 1024:.0f} MiB")
        admin("CHECKPOINT")
        results["initial_baseline"] = run_baseline(initial, BASE_INITIAL, BASELINE_INITIAL_SQL)
        print(f"initial load baseline: {results['initial_baseline']:.1f} s")
        assert qoh_sum(OURS) == qoh_sum(BASE_INITIAL), "ours and the baseline disagree on the loaded totals"
        admin(f"DROP DATABASE IF EXISTS {BASE_INITIAL} WITH (FORCE)")
        settle(OURS)
        admin(f"CREATE DATABASE {BASE} TEMPLATE {OURS}")
        admin("CHECKPOINT")
        results["sync"], results["sync_rss"] = run_cli(sync)
        print(f"sync: {results['sync']:.1f} s, peak RSS {results['sync_rss'] / 1024:.0f} MiB")
        admin("CHECKPOINT")
        results["baseline"] = run_baseline(sync, BASE)
        print(f"baseline: {results['baseline']:.1f} s")
        assert qoh_sum(OURS) == qoh_sum(BASE), "ours and the baseline disagree on the totals"
    ratio = results["sync"] / results["baseline"]
    print(f"RSS reset_1m {max(results['initial_rss'], results['sync_rss']) / 1024:.0f} MiB")
    print(f"RATIO reset_1m {ratio:.2f}")
    print(f"RATIO reset_1m_initial {results['initial'] / results['initial_baseline']:.2f}")
    command = " ".join(["python bench/reset_1m.py", *sys.argv[1:]])
    append_results(lines, args.facilities, results, command)
    if not args.keep:
        for name in (OURS, BASE):
            admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
