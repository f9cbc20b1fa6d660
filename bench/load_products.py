"""Benchmark: bulk product load (issue 19, target 5): `stockledger load` and `POST /v1/import`
of 100,000 products, each ≥ 20,000 products/s, on PostgreSQL.

    .venv/bin/python bench/load_products.py [--products 100000] [--per-document 10000] [--repeat 1]
        [--database stockledger_bench_load] [--port 8731] [--runs baseline,cli,http]

The data: seed-format facility documents (as seed 002's 02_facility_products.json), each with
the facility, its 10 facilityLocations and `--per-document` products, every product with a
productFacility and one productFacilityLocation: 30,011 records a document at 10,000 (an import
document holds at most 50,000). Three runs (`--runs`: some of them), each on a fresh migrated
database (`--database`, CHECKPOINT before), in turn `--repeat` times (the best of each is
reported, with every time: the machine is shared):

1. baseline: raw SQL on one psycopg connection, per document: json.load, COPY of its rows into
   temporary tables, INSERT … SELECT … ON CONFLICT DO UPDATE into facility, facility_location,
   product, product_facility, product_facility_location, commit: the database work a load
   cannot avoid;
2. `stockledger load FILE…` on a pseudo-terminal (its Rich progress bar drawn), process start
   included;
3. `stockledger serve` (1 worker, --no-publish) and one POST /v1/import per document in turn
   over HTTP (httpx, keep-alive), from the first request sent to the last answer.

Each run must leave the same rows (counted per table, and the sums of their quantities: the
baseline scales them to millionths as the application stores them). Prints, per run, the CPU
seconds of the client (the baseline's process, `stockledger load`, `serve`) and of the
PostgreSQL backends it used (BackendCpu), which a loaded machine disturbs less than the wall
seconds; then seconds and products/s per run,
`RATIO load_products_cli` and `RATIO load_products_http` (best seconds / best baseline seconds:
the price of the application over the raw SQL), the same ratio per repeat (each run against the
baseline of its own repeat: on a shared machine the fairer one) with its median, and a LIMIT line
per path (ok at ≥ 20,000/s).
Records nothing in bench/RESULTS.md.
"""

import argparse
import contextlib
import json
import os
import pty
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from httpbench import CLI, create_token, load_average, serving

from stockledger.core import migrate
from stockledger.core.db import Database

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "stockledger_bench_load"
TARGET_PER_SECOND = 20_000
LOCATIONS = 10
FACILITY = "LOAD_DC"
PORT = 8731
TABLES = ("facility", "facility_location", "product", "product_facility", "product_facility_location")


APP_NAME = "bench_load_products"  # the application_name of every connection a run makes


class BackendCpu:
    """CPU seconds (user + system) of the PostgreSQL backends named APP_NAME while the block runs:
    each polled from /proc every 20 ms (the server is on this host), its last reading counted."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._stop = threading.Event()
        self._base: dict[int, float] = {}
        self._last: dict[int, float] = {}

    def __enter__(self) -> "BackendCpu":
        self._conn = psycopg.connect(ADMIN, autocommit=True)
        self._base = self._read()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()
        self.seconds = sum(cpu - self._base.get(pid, 0.0) for pid, cpu in self._last.items())

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._last.update(self._read())
            time.sleep(0.02)
        self._last.update(self._read())

    def _read(self) -> dict[int, float]:
        found = {}
        pids = self._conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,))
        for (pid,) in pids.fetchall():
            with contextlib.suppress(OSError):  # gone since
                found[int(pid)] = _cpu_of(int(pid))
        return found


def url() -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{NAME}"


def fresh_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {NAME}")
    db = Database(url())
    migrate.upgrade(db.engine)
    db.dispose()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # the previous run's dirty pages written before this one starts


def drop_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")


def document(first: int, count: int) -> dict[str, Any]:
    """A facility document of products first … first + count - 1."""
    return {
        "facilityId": FACILITY,
        "facilityTypeId": "WAREHOUSE",
        "facilityName": "Bulk load DC",
        "facilityLocations": [
            {"locationSeqId": f"{n:04d}", "locationTypeEnumId": "FLT_PICKLOC", "areaId": "A"}
            for n in range(1, LOCATIONS + 1)
        ],
        "products": [
            {
                "productId": f"BULK{n:07d}",
                "productTypeId": "FINISHED_GOOD",
                "productName": f"Bulk product {n}",
                "productFacility": {"minimumStock": n % 20, "reorderQuantity": 50, "daysToShip": n % 7},
                "productFacilityLocations": [
                    {"locationSeqId": f"{n % LOCATIONS + 1:04d}", "minimumStock": 5, "moveQuantity": 10}
                ],
            }
            for n in range(first, first + count)
        ],
    }


def write_documents(folder: Path, products: int, per_document: int) -> list[Path]:
    paths = []
    for number, first in enumerate(range(0, products, per_document)):
        path = folder / f"products_{number:03d}.json"
        path.write_text(json.dumps(document(first, min(per_document, products - first))))
        paths.append(path)
    return paths


def counts() -> dict[str, int]:
    """Rows per table, and the sums of the quantities (in millionths, as stored): the runs must
    leave the same values, not only as many rows."""
    sums = {
        "product_facility": "sum(minimum_stock) + sum(reorder_quantity) + sum(days_to_ship)",
        "product_facility_location": "sum(minimum_stock) + sum(move_quantity)",
    }
    with psycopg.connect(url()) as conn:
        found = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]
        for table, total in sums.items():
            found[f"{table} quantities"] = int(conn.execute(f"SELECT {total} FROM {table}").fetchone()[0])  # type: ignore[index]
    return found


BASELINE_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS t_loc (location_seq_id text, location_type_enum_id text, area_id text);
CREATE TEMP TABLE IF NOT EXISTS t_product (product_id text, product_type_id text, product_name text,
  minimum_stock numeric, reorder_quantity numeric, days_to_ship int);
CREATE TEMP TABLE IF NOT EXISTS t_pfl (product_id text, location_seq_id text, minimum_stock numeric,
  move_quantity numeric);
TRUNCATE t_loc, t_product, t_pfl;
"""

BASELINE_INSERTS = (
    """INSERT INTO facility (facility_id, facility_type_id, facility_name, costing_method_id, created_stamp)
    VALUES (%(f)s, %(type)s, %(name)s, 'FIFO', now() AT TIME ZONE 'UTC') ON CONFLICT (facility_id)
    DO UPDATE SET facility_type_id = EXCLUDED.facility_type_id, facility_name = EXCLUDED.facility_name""",
    """INSERT INTO facility_location (facility_id, location_seq_id, location_type_enum_id, area_id)
    SELECT %(f)s, location_seq_id, location_type_enum_id, area_id FROM t_loc
    ON CONFLICT (facility_id, location_seq_id) DO UPDATE SET
    location_type_enum_id = EXCLUDED.location_type_enum_id, area_id = EXCLUDED.area_id""",
    """INSERT INTO product (product_id, product_type_id, product_name, created_stamp)
    SELECT product_id, product_type_id, product_name, now() AT TIME ZONE 'UTC' FROM t_product
    ON CONFLICT (product_id) DO UPDATE SET
    product_type_id = EXCLUDED.product_type_id, product_name = EXCLUDED.product_name""",
    """INSERT INTO product_facility (facility_id, product_id, minimum_stock, reorder_quantity, days_to_ship)
    SELECT %(f)s, product_id, minimum_stock * 1000000, reorder_quantity * 1000000, days_to_ship FROM t_product
    ON CONFLICT (facility_id, product_id) DO UPDATE SET minimum_stock = EXCLUDED.minimum_stock,
    reorder_quantity = EXCLUDED.reorder_quantity, days_to_ship = EXCLUDED.days_to_ship""",
    """INSERT INTO product_facility_location (facility_id, product_id, location_seq_id, minimum_stock,
    move_quantity) SELECT %(f)s, product_id, location_seq_id, minimum_stock * 1000000, move_quantity * 1000000
    FROM t_pfl
    ON CONFLICT (facility_id, product_id, location_seq_id) DO UPDATE SET
    minimum_stock = EXCLUDED.minimum_stock, move_quantity = EXCLUDED.move_quantity""",
)


def baseline(paths: list[Path]) -> float:
    started, cpu = time.monotonic(), time.process_time()
    with BackendCpu() as backend, psycopg.connect(url(), application_name=APP_NAME) as conn:
        for path in paths:
            doc = json.loads(path.read_text())
            conn.execute(BASELINE_TEMP)
            with conn.cursor() as cur:
                with cur.copy("COPY t_loc FROM STDIN") as copy:
                    for loc in doc["facilityLocations"]:
                        copy.write_row((loc["locationSeqId"], loc["locationTypeEnumId"], loc["areaId"]))
                with cur.copy("COPY t_product FROM STDIN") as copy:
                    for p in doc["products"]:
                        pf = p["productFacility"]
                        copy.write_row(
                            (
                                p["productId"],
                                p["productTypeId"],
                                p["productName"],
                                pf["minimumStock"],
                                pf["reorderQuantity"],
                                pf["daysToShip"],
                            )
                        )
                with cur.copy("COPY t_pfl FROM STDIN") as copy:
                    for p in doc["products"]:
                        for pfl in p["productFacilityLocations"]:
                            copy.write_row(
                                (
                                    p["productId"],
                                    pfl["locationSeqId"],
                                    pfl["minimumStock"],
                                    pfl["moveQuantity"],
                                )
                            )
                params = {"f": doc["facilityId"], "type": doc["facilityTypeId"], "name": doc["facilityName"]}
                for sql in BASELINE_INSERTS:
                    cur.execute(sql, params)
            conn.commit()
    seconds = time.monotonic() - started
    client = time.process_time() - cpu
    print(f"baseline: client {client:.2f} s, backend {backend.seconds:.2f} s of CPU in {seconds:.2f} s")
    return seconds


def run_cli_on_terminal(paths: list[Path], env: dict[str, str]) -> tuple[float, str]:
    """`stockledger load` with stdout and stderr on a pseudo-terminal: its seconds and output."""
    leader, follower = pty.openpty()
    cpu_before = _children_cpu()
    started = time.monotonic()
    with (
        BackendCpu() as backend,
        subprocess.Popen(
            [CLI, "load", *map(str, paths)],
            stdout=follower,
            stderr=follower,
            stdin=subprocess.DEVNULL,
            env=env,
        ) as proc,
    ):
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait()
    seconds = time.monotonic() - started
    client = _children_cpu() - cpu_before
    print(
        f"stockledger load: client {client:.2f} s, backend {backend.seconds:.2f} s of CPU in {seconds:.2f} s"
    )
    os.close(leader)
    output = b"".join(chunks).decode("utf-8", "replace")
    if code != 0:
        raise RuntimeError(f"stockledger load exited {code}:\n{output[-3000:]}")
    return seconds, output


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_http(paths: list[Path], env: dict[str, str]) -> float:
    token = create_token(env, "admin", "bench load_products")
    bodies = [path.read_bytes() for path in paths]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with serving(env, PORT, 1) as base, httpx.Client(base_url=base, timeout=600) as client:
        server = _server_pid()
        cpu_before = _cpu_of(server)
        started = time.monotonic()
        with BackendCpu() as backend:
            for body in bodies:
                answer = client.post("/v1/import", content=body, headers=headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"POST /v1/import: {answer.status_code} {answer.text[:2000]}")
        seconds = time.monotonic() - started
        cpu = _cpu_of(server) - cpu_before
        print(f"stockledger serve: {cpu:.2f} s, backend {backend.seconds:.2f} s of CPU in {seconds:.2f} s")
        return seconds


def _server_pid() -> int:
    """The process of `stockledger serve --port PORT` (one worker: the one that answers)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or gone
            continue
        if proc.name.isdigit() and b"serve" in argv and str(PORT).encode() in argv:
            return int(proc.name)
    raise RuntimeError(f"no stockledger serve on port {PORT}")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of process `pid` (/proc/PID/stat)."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    global NAME, PORT, APP_NAME  # the scratch database and port of this run
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--per-document", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each path (the best is reported)")
    parser.add_argument("--database", default=NAME, help="the scratch database (dropped at the end)")
    parser.add_argument("--port", type=int, default=PORT, help="serve's port for the HTTP run")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {','.join(RUNS)}")
    args = parser.parse_args()
    NAME, PORT, APP_NAME = args.database, args.port, f"bench_{args.database}"
    runs = [run for run in RUNS if run in args.runs.split(",")]
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url(), "TERM": "xterm-256color", "COLUMNS": "120"}
    env["PGAPPNAME"] = APP_NAME  # libpq's: the CLI's and the server's connections, for BackendCpu
    for name in ("STOCKLEDGER_NATS_URL", "NO_COLOR", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    seconds: dict[str, list[float]] = {run: [] for run in runs}
    rows: dict[str, dict[str, int]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_documents(Path(tmp), args.products, args.per_document)
            fresh_database()
            # once (not timed): the CLI's modules compiled to bytecode in __pycache__, as an
            # installation has them (the Dockerfile: UV_COMPILE_BYTECODE=1)
            subprocess.run([CLI, "load", str(paths[0])], env=env, check=True, capture_output=True)
            for _ in range(args.repeat):  # the runs in turn, each on a fresh database
                for run in runs:
                    fresh_database()
                    seconds[run].append(timed(run, paths, env))
                    rows[run] = counts()
    finally:
        drop_database()
    report(args.products, len(paths), seconds, rows)


RUNS = ("baseline", "cli", "http")


def timed(run: str, paths: list[Path], env: dict[str, str]) -> float:
    """The seconds of one run on a fresh database."""
    if run == "baseline":
        return baseline(paths)
    if run == "http":
        return run_http(paths, env)
    cli_seconds, output = run_cli_on_terminal(paths, env)
    if "\x1b[?25l" not in output:
        raise RuntimeError("stockledger load drew no progress bar on the terminal")
    return cli_seconds


def report(
    products: int, documents: int, seconds: dict[str, list[float]], rows: dict[str, dict[str, int]]
) -> None:
    """Each run's best (least disturbed by the machine's other work) and all its times."""
    print(f"{products} products in {documents} documents; load average {load_average()}")
    left = list(rows.values())
    if any(found != left[0] for found in left):
        raise RuntimeError(f"the runs left different rows: {rows}")
    print(f"rows per table (each run): {left[0]}")
    labels = {
        "baseline": "raw SQL baseline (COPY, INSERT … SELECT)",
        "cli": "stockledger load (terminal, process start included)",
        "http": "POST /v1/import on serve",
    }
    best = {run: min(times) for run, times in seconds.items()}
    for run in seconds:
        each = ", ".join(f"{t:.2f}" for t in seconds[run])
        rate = products / best[run]
        print(f"{labels[run]}: best {best[run]:.2f} s, {rate:,.0f} products/s (runs: {each} s)")
    paths = [run for run in ("cli", "http") if run in seconds]
    if "baseline" in seconds:
        for run in paths:
            print(f"RATIO load_products_{run} {best[run] / best['baseline']:.3f}")
        for run in paths:  # the machine's load varies: each repeat against its own baseline too
            ratios = [t / b for t, b in zip(seconds[run], seconds["baseline"], strict=True)]
            each = ", ".join(f"{r:.3f}" for r in ratios)
            print(f"{run} ÷ baseline of the same repeat: median {statistics.median(ratios):.3f} ({each})")
    for run in paths:
        rate = products / best[run]
        print(f"LIMIT load_products_{run} {'ok' if rate >= TARGET_PER_SECOND else 'OVER'} ({rate:,.0f}/s)")


if __name__ == "__main__":
    main()
