"""Benchmark: `stockledger reset FILE.csv` with 1,000,000 lines on PostgreSQL, against raw SQL.

    .venv/bin/python bench/reset_1m.py [--lines 1000000] [--facilities 10] [--prefix NAME]

Creates the database stockledger_bench_reset (--prefix: another name, so that two runs on one
server do not meet; and a clone for the baseline, named after it), the facilities
and products set-based, then runs the CLI as a subprocess twice, measuring wall time and
peak RSS of the child: an initial load (every facility item is created), then VACUUM ANALYZE
and CHECKPOINT, and a sync that changes every line (half by quantityOnHand, half by
availableToPromise). The baseline applies the same sync file with hand-written SQL in one
transaction (COPY into a temp table, the diffs into another, ANALYZE of it, UPDATE … FROM,
INSERT … SELECT of the detail rows, the audit row) on a clone of the database as it was before
our sync, with the memory the product's reset gives itself (BASELINE_SETTINGS). Prints
`RATIO reset_1m <ours/baseline>` (another --lines: reset_100k, … `label`) and appends to
bench/RESULTS.md under the same name, with the CPU seconds of each
run: the `stockledger reset` child's (user + system) and its database's server processes' (read
from /proc every POLL seconds while the run lasts: PostgreSQL on this host), and the load average.

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
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from stockledger.core import migrate
from stockledger.core.db import Database

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "stockledger_bench_reset"
POLL = 0.02  # seconds between two readings of the server processes' CPU
TICK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]
STOCKLEDGER = Path(sys.executable).parent / "stockledger"
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"


def label(lines: int) -> str:
    """The name of a run's RATIO and RSS lines and of its RESULTS.md section, by its size:
    reset_1m at 1,000,000 lines, reset_100k at 100,000 (`make bench` runs both), else
    reset_<lines>."""
    if lines % 1_000_000 == 0:
        return f"reset_{lines // 1_000_000}m"
    if lines % 1_000 == 0:
        return f"reset_{lines // 1_000}k"
    return f"reset_{lines}"


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


def names(prefix: str) -> tuple[str, str, str]:
    """Our database, the sync baseline's clone and the initial load baseline's clone."""
    return prefix, f"{prefix}_base", f"{prefix}_base_initial"


def create_database(prefix: str, products: int, facilities: int) -> None:
    for name in names(prefix):
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {prefix}")
    db = Database(url(prefix))
    migrate.upgrade(db.engine)
    db.dispose()
    with psycopg.connect(url(prefix)) as conn:
        insert_catalogue(conn, products, facilities)


class ServerCpu:
    """CPU seconds (user + system) of the server processes of one database while the block runs:
    their pids from pg_stat_activity, their times from /proc, read every POLL seconds (a process
    that ends counts as of its last reading: at most POLL of it is lost)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.ticks: dict[int, int] = {}
        self.seconds = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "ServerCpu":
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()
        self.seconds = sum(self.ticks.values()) / TICK

    def _poll(self) -> None:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            while True:
                found = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))
                for (pid,) in found.fetchall():
                    self._read(pid)
                if self._done.wait(POLL):
                    return

    def _read(self, pid: int) -> None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return  # it ended
        self.ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


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


def run_cli(csv: Path, database: str) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds of the child and of its server processes, and peak RSS (KiB) of
    one `stockledger reset` child."""
    with ServerCpu(database) as server:
        wall, cpu, rss = timed_reset(url(database), csv)
    return wall, cpu, server.seconds, rss


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
    "ANALYZE reset_diff",  # joined to inventory_item next: as the product analyses its own
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


def run_baseline(
    csv: Path, database: str, statements: list[str | None] = BASELINE_SQL
) -> tuple[float, float]:
    """Wall seconds and the server's CPU seconds of the baseline."""
    with ServerCpu(database) as server:
        wall = _baseline(csv, database, statements)
    return wall, server.seconds


# The memory the product's reset gives its own transaction (STOCKLEDGER_RESET_WORK_MEM and
# STOCKLEDGER_RESET_TEMP_BUFFERS' defaults, resets/set_based.py), and no JIT, as it runs: with the
# server's 8 MB of temp_buffers the baseline's temporary tables of 1,000,000 lines went to disk
# (80 s against 3.6 s at 100,000 lines, session 18), a baseline no raw client need be.
BASELINE_SETTINGS = ("SET temp_buffers = '256MB'", "SET work_mem = '128MB'", "SET jit = off")


def _baseline(csv: Path, database: str, statements: list[str | None]) -> float:
    started = time.perf_counter()
    with psycopg.connect(url(database), autocommit=True) as conn:
        for setting in BASELINE_SETTINGS:  # before the first temporary table (temp_buffers)
            conn.execute(setting)
        _statements(conn, csv, statements)
    return time.perf_counter() - started


def _statements(conn: psycopg.Connection[Any], csv: Path, statements: list[str | None]) -> None:
    with conn.transaction():
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
    r = results
    with path.open("a") as f:
        f.write(
            f"\n## {label(lines)} — {stamp}\n\n"
            f"`{command}` (PostgreSQL, {lines:,} lines over {facilities} facilities; load average "
            f"{r['load_before']:.1f} before, {r['load_after']:.1f} after)\n\n"
            "| run | wall s | CPU s (client) | CPU s (server) | peak RSS MiB |\n|---|---|---|---|---|\n"
            f"| `stockledger reset` initial load (creates every facility item) | {r['initial']:.2f} | "
            f"{r['initial_cpu']:.2f} | {r['initial_server']:.2f} | {r['initial_rss'] / 1024:.0f} |\n"
            "| raw-SQL baseline of the initial load (COPY, INSERT … SELECT of links, items, detail rows) | "
            f"{r['initial_baseline']:.2f} | – | {r['initial_baseline_server']:.2f} | – |\n"
            f"| `stockledger reset` sync (every line changes) | {r['sync']:.2f} | {r['sync_cpu']:.2f} | "
            f"{r['sync_server']:.2f} | {r['sync_rss'] / 1024:.0f} |\n"
            "| raw-SQL baseline of the same sync (COPY, UPDATE … FROM, INSERT … SELECT) | "
            f"{r['baseline']:.2f} | – | {r['baseline_server']:.2f} | – |\n\n"
            f"RATIO {label(lines)} {r['sync'] / r['baseline']:.2f} (sync / baseline)\n\n"
            f"RATIO {label(lines)}_initial {r['initial'] / r['initial_baseline']:.2f} "
            "(initial load / its baseline)\n"
        )


def measure(prefix: str, products: int, facilities: int, tmp: Path) -> dict[str, float]:
    """The four runs (see above) on freshly made databases named after `prefix`."""
    ours, base, base_initial = names(prefix)
    initial, sync = tmp / "initial.csv", tmp / "sync.csv"
    create_database(prefix, products, facilities)
    compile_bytecode()
    admin(f"CREATE DATABASE {base_initial} TEMPLATE {ours}")  # the catalogue, no stock yet
    write_csv(initial, products, facilities, sync=False)
    write_csv(sync, products, facilities, sync=True)
    r: dict[str, float] = {"load_before": os.getloadavg()[0]}
    admin("CHECKPOINT")
    r["initial"], r["initial_cpu"], r["initial_server"], r["initial_rss"] = run_cli(initial, ours)
    print(
        f"initial load: {r['initial']:.2f} s (CPU {r['initial_cpu']:.2f} + server {r['initial_server']:.2f})"
    )
    admin("CHECKPOINT")
    r["initial_baseline"], r["initial_baseline_server"] = run_baseline(
        initial, base_initial, BASELINE_INITIAL_SQL
    )
    print(f"initial load baseline: {r['initial_baseline']:.2f} s (server {r['initial_baseline_server']:.2f})")
    assert qoh_sum(ours) == qoh_sum(base_initial), "ours and the baseline disagree on the loaded totals"
    admin(f"DROP DATABASE IF EXISTS {base_initial} WITH (FORCE)")
    settle(ours)
    admin(f"CREATE DATABASE {base} TEMPLATE {ours}")
    admin("CHECKPOINT")
    r["sync"], r["sync_cpu"], r["sync_server"], r["sync_rss"] = run_cli(sync, ours)
    print(f"sync: {r['sync']:.2f} s (CPU {r['sync_cpu']:.2f} + server {r['sync_server']:.2f})")
    admin("CHECKPOINT")
    r["baseline"], r["baseline_server"] = run_baseline(sync, base)
    print(f"baseline: {r['baseline']:.2f} s (server {r['baseline_server']:.2f})")
    assert qoh_sum(ours) == qoh_sum(base), "ours and the baseline disagree on the totals"
    r["load_after"] = os.getloadavg()[0]
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=10)
    parser.add_argument("--prefix", default=PREFIX, help="the databases' names start with it")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    products = args.lines // args.facilities
    lines = products * args.facilities
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(args.prefix, products, args.facilities, Path(tmp))
    name = label(lines)
    print(f"RSS {name} {max(results['initial_rss'], results['sync_rss']) / 1024:.0f} MiB")
    print(f"RATIO {name} {results['sync'] / results['baseline']:.2f}")
    print(f"RATIO {name}_initial {results['initial'] / results['initial_baseline']:.2f}")
    command = " ".join(["python bench/reset_1m.py", *sys.argv[1:]])
    append_results(lines, args.facilities, results, command)
    if not args.keep:
        for name in names(args.prefix)[:2]:
            admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
