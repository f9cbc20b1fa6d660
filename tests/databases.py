"""Fresh PostgreSQL databases for tests that need their own (the shared one is truncated per test)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from stockledger.core import migrate
from stockledger.core.db import Database

PG_ADMIN_URL = os.environ.get("STOCKLEDGER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


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
