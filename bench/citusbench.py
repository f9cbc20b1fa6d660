"""What the Citus benchmarks share: the same database on one PostgreSQL and on the Citus cluster,
and the CPU each node of the cluster spent.

The Citus cluster is the one of scripts/citus.sh (coordinator STOCKLEDGER_BENCH_CITUS_URL,
default :9700, and its active workers); the single server is STOCKLEDGER_BENCH_PG_ADMIN (5432).
A benchmark database is created on every node with the citus extension and the coordinator's
workers joined, with Citus's default 32 shards per table, then migrated (`stockledger migrate`
distributes it). CPU per node: the node's postmaster read from /proc (its own CPU, what it
collected from children that exited, and every live child's), so a figure covers all of the
node's backends, the short-lived ones included.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg

from stockledger.core import migrate
from stockledger.core.db import Database

PG_ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
CITUS_URL = os.environ.get("STOCKLEDGER_BENCH_CITUS_URL", "postgresql://postgres@127.0.0.1:9700/stockledger")
TICKS = os.sysconf("SC_CLK_TCK")
MICROS = 1_000_000


@dataclass(frozen=True)
class Backend:
    """Where a benchmark database lives: `plain` PostgreSQL, or `citus` (the coordinator's admin
    URL first, then each worker's)."""

    label: str
    admins: tuple[str, ...]

    def url(self, name: str) -> str:
        return self.admins[0].rsplit("/", 1)[0] + f"/{name}"


def plain() -> Backend:
    return Backend("postgresql", (PG_ADMIN,))


def citus() -> Backend:
    """The cluster at CITUS_URL: its coordinator and active workers, as admin URLs."""
    base = CITUS_URL.rsplit("/", 1)[0]
    with psycopg.connect(CITUS_URL) as conn:
        workers = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE isactive AND groupid <> 0 ORDER BY 2"
        ).fetchall()
    user = base.split("//", 1)[1].split("@", 1)[0]
    return Backend(
        "citus", (f"{base}/postgres", *(f"postgresql://{user}@{h}:{p}/postgres" for h, p in workers))
    )


def drop_database(backend: Backend, name: str) -> None:
    for admin in backend.admins:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def create_database(backend: Backend, name: str) -> str:
    """A new, migrated database `name` on the backend (every node of a cluster); its URL."""
    drop_database(backend, name)
    for admin in backend.admins:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        if backend.label == "citus":
            with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
                conn.execute("SET client_min_messages = warning")
                conn.execute("CREATE EXTENSION citus")
    url = backend.url(name)
    if backend.label == "citus":
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", (conn.info.host, conn.info.port))
            for admin in backend.admins[1:]:
                worker = psycopg.conninfo.conninfo_to_dict(admin)
                conn.execute("SELECT citus_add_node(%s, %s)", (worker["host"], int(worker["port"] or 5432)))
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    return url


def add_facilities_and_products(url: str, facilities: list[str], products: int) -> None:
    """The facilities, and products P000000…, set-based."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
            "SELECT f, 'FIFO', now() FROM unnest(%s::text[]) f",
            (facilities,),
        )
        conn.execute(
            "INSERT INTO product (product_id, created_stamp) "
            "SELECT 'P' || lpad(n::text, 6, '0'), now() FROM generate_series(0, %s - 1) n",
            (products,),
        )


def spread_facilities(url: str, count: int) -> list[str]:
    """`count` facility ids whose shards alternate between the cluster's workers (hash placement
    may put 4 facilities on one worker: then the cluster would not be what is measured)."""
    by_worker: dict[int, list[str]] = {}
    with psycopg.connect(url) as conn:
        for n in range(1, 100):
            facility = f"F{n:02d}"
            row = conn.execute(
                "SELECT nodeport FROM citus_shards WHERE table_name = 'inventory_item'::regclass"
                " AND shardid = get_shard_id_for_distribution_column('inventory_item', %s::text)",
                (facility,),
            ).fetchone()
            assert row is not None
            by_worker.setdefault(int(row[0]), []).append(facility)
    columns = list(by_worker.values())
    return sorted(columns[n % len(columns)][n // len(columns)] for n in range(count))


def node_cpu(backend: Backend) -> dict[str, float]:
    """CPU seconds spent so far by each node of the backend (label `:port`), from /proc."""
    spent: dict[str, float] = {}
    for admin in backend.admins:
        with psycopg.connect(admin) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
            port = conn.info.port
        assert row is not None
        postmaster = int((Path(str(row[0])) / "postmaster.pid").read_text().split()[0])
        spent[f":{port}"] = _process_tree_cpu(postmaster)
    return spent


def _process_tree_cpu(parent: int) -> float:
    fields = _stat(parent)
    total = sum(int(x) for x in fields[11:15]) if fields else 0  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(int(entry.name))
            if child and int(child[1]) == parent:  # ppid
                total += int(child[11]) + int(child[12])
    return total / TICKS


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, … (None once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {node: after[node] - before[node] for node in before}
