"""Fixtures: a migrated database per backend (SQLite file, real PostgreSQL), clean per test.

Every test that touches a database ends with what `stockledger verify` checks: the ledger
rule (totals == sum of detail diffs for every item) and the business rules of
ledger/rules_check.py.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from stockledger.app import create_app
from stockledger.auth.service import create_token
from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core import citus, migrate
from stockledger.core.db import Database
from stockledger.ledger.rules_check import check_rules
from stockledger.ledger.verify import find_mismatches
from tests.databases import CITUS_URL, fresh_citus, fresh_postgres

REFERENCE_TABLES = {"alembic_version", "inventory_item_type", "variance_reason"}
# The Citus cluster is a third backend only where STOCKLEDGER_TEST_CITUS_URL names its coordinator
# (scripts/citus.sh url): without it the suite is the same as ever.
CITUS = ["citus"] if CITUS_URL else []
BACKENDS = ["sqlite", "postgres", *CITUS]
POSTGRES_LIKE = ["postgres", *CITUS]  # for tests of PostgreSQL behaviour (locks, concurrency)


def _needs_the_cluster(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_citus = callspec is not None and callspec.params.get("backend") == "citus"
    return on_citus or item.get_closest_marker("citus") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a cluster the tests that need one are deselected, not skipped: `make test` reports
    0 skipped, and `make test-citus` (STOCKLEDGER_TEST_CITUS_URL set) runs them."""
    if CITUS_URL:
        return
    cluster = [item for item in items if _needs_the_cluster(item)]
    if cluster:
        config.hook.pytest_deselected(items=cluster)
        items[:] = [item for item in items if not _needs_the_cluster(item)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test run on the real server, dropped at the end."""
    with fresh_postgres("stockledger_test") as url:
        yield url


@pytest.fixture(scope="session")
def citus_url() -> Iterator[str]:
    """A fresh, migrated (so distributed) database on the Citus cluster, dropped at the end."""
    with fresh_citus("stockledger_test") as url:
        yield url


def _data_tables(conn: Connection) -> list[str]:
    tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
    return [t for t in tables if t not in REFERENCE_TABLES]


def _truncate_postgres(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_data_tables(conn))} CASCADE"))


def _empty_citus(db: Database) -> None:
    """DELETE, referencing tables first, one shard at a time, in one round trip: on Citus a
    TRUNCATE of every shard takes ten times as long."""
    with db.engine.begin() as conn:
        tables = _data_tables(conn)
        keys = [(fk.table, fk.referred) for fk in citus.foreign_keys(conn) if fk.table != fk.referred]
        ordered: list[str] = []
        while tables:
            leaves = [t for t in tables if not any(ref == t and child in tables for child, ref in keys)]
            ordered += leaves
            tables = [t for t in tables if t not in leaves]
        conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
        conn.execute(text("; ".join(f"DELETE FROM {t}" for t in ordered)))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        path = tmp_path / "stockledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue(f"{backend}_url"))


@pytest.fixture
def db(db_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    database = Database(db_url)
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "citus":
        _empty_citus(database)
    elif database.engine.dialect.name == "postgresql":
        _truncate_postgres(database)
    yield database
    if "corrupts_ledger" not in request.keywords:
        with database.reading() as session:
            assert find_mismatches(session) == [], "ledger rule broken: totals != sum of details"
            broken = {name: n for name, n in check_rules(session).items() if n}
            if "posts_without_events" in request.keywords:
                broken.pop("an_event_for_every_ledger_row", None)
            assert broken == {}, "business rules broken (stockledger verify)"
    database.dispose()


@pytest.fixture
def seeded(db: Database) -> Database:
    load_documents(db, seed_documents())
    return db


@pytest.fixture
def admin_token(db: Database) -> str:
    with db.transaction() as session:
        return create_token(session, "admin", description="tests").token


@pytest.fixture
def client(db: Database, db_url: str, admin_token: str) -> Iterator[TestClient]:
    """An HTTP client that acts as an admin (tests of refusals send their own headers)."""
    app = create_app(db_url)
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client


@pytest.fixture
def seeded_client(seeded: Database, client: TestClient) -> TestClient:
    return client
