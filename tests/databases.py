"""Fresh PostgreSQL databases for tests that need their own (the shared one is truncated per test)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from stockledger.core import migrate
from stockledger.core.db import Database

PG_ADMIN_URL = os.environ.get("STOCKLEDGER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
# The coordinator of a Citus cluster with workers (`scripts/citus.sh url`); unset: no Citus backend.
CITUS_URL = os.environ.get("STOCKLEDGER_TEST_CITUS_URL")
CITUS_TEST_SHARDS = 4  # per distributed table in test databases (production: Citus's default, 32)


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """A new, migrated database named `<prefix>_<random>` on the real server; its URL. Dropped
    (FORCE) at the end, whatever happened."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        db = Database(url)
        migrate.upgrade(db.engine)
        db.dispose()
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def citus_nodes(url: str) -> list[str]:
    """Admin URLs (database `postgres`) of the coordinator at `url` and of its active workers."""
    base = url.rsplit("/", 1)[0]
    with psycopg.connect(url) as conn:
        workers = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE isactive AND groupid <> 0 ORDER BY 2"
        ).fetchall()
    user = base.split("//", 1)[1].split("@", 1)[0]
    return [f"{base}/postgres", *(f"postgresql://{user}@{h}:{p}/postgres" for h, p in workers)]


def create_citus_database(name: str) -> str:
    """A new database `name` on every node of the cluster at CITUS_URL, with the citus extension,
    its workers joined; its coordinator URL (not migrated)."""
    assert CITUS_URL, "STOCKLEDGER_TEST_CITUS_URL is not set"
    nodes = citus_nodes(CITUS_URL)
    for admin in nodes:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
            conn.execute("SET client_min_messages = warning")
            conn.execute("CREATE EXTENSION citus")
    url = CITUS_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        host, port = conn.info.host, conn.info.port
        conn.execute("SELECT citus_set_coordinator_host(%s, %s)", (host, port))
        for admin in nodes[1:]:
            worker = psycopg.conninfo.conninfo_to_dict(admin)
            conn.execute("SELECT citus_add_node(%s, %s)", (worker["host"], int(worker["port"] or 5432)))
        conn.execute(f'ALTER DATABASE "{name}" SET citus.shard_count = {CITUS_TEST_SHARDS}')
    return url


def drop_citus_database(name: str) -> None:
    assert CITUS_URL
    for admin in citus_nodes(CITUS_URL):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_citus(prefix: str, migrated: bool = True) -> Iterator[str]:
    """A new database `<prefix>_<random>` on every node of the Citus cluster, migrated (and so
    distributed) unless told otherwise; its coordinator URL. Dropped on every node at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        url = create_citus_database(name)
        if migrated:
            db = Database(url)
            migrate.upgrade(db.engine)
            db.dispose()
        yield url
    finally:
        drop_citus_database(name)
