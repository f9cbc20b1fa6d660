"""A request that finds no free database connection within the pool's wait is a 503
database_busy with Retry-After (it was a 500 internal_error, SQLAlchemy's
TimeoutError having no handler), whether the wait was the thread path's pool (core.alone_pool)
or SQLAlchemy's own."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from stockledger.app import create_app
from stockledger.core.alone_pool import AlonePool
from stockledger.core.db import Database
from stockledger.core.statements import Statement

ONE = Statement("SELECT 1", {})


@pytest.fixture
def busy_app(db: Database, db_url: str) -> Iterator[tuple[TestClient, Database]]:
    """The app (raising nothing to the client: answers as a user gets them) and its database."""
    app = create_app(db_url)
    database: Database = app.state.db
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, database


def _busy(answer_status: int, body: dict[str, object], headers: dict[str, str], why: str = "busy") -> None:
    assert answer_status == 503, body
    assert body["code"] == "database_busy"
    assert why in str(body["detail"])
    assert "nothing was changed" in str(body["detail"])
    assert int(headers["retry-after"]) >= 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_no_free_alone_connection_is_a_503_database_busy(busy_app: tuple[TestClient, Database]) -> None:
    client, database = busy_app
    pool = AlonePool(database._alone_connection, size=1, idle_ping=30, timeout=0.2)
    held = [pool.checkout(), pool.checkout()]
    database.alone_pool = pool
    client.app.add_api_route("/busy-alone", lambda: len(database.run_alone(ONE)))  # type: ignore[attr-defined]
    answer = client.get("/busy-alone")
    _busy(answer.status_code, answer.json(), dict(answer.headers))
    assert answer.headers["content-type"].startswith("application/problem+json")
    for pooled in held:
        pool.checkin(pooled)
    assert client.get("/busy-alone").status_code == 200  # a connection came back: served again
    pool.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_no_free_session_connection_is_a_503_database_busy(busy_app: tuple[TestClient, Database]) -> None:
    client, database = busy_app
    engine = database.engine.execution_options()
    pool = engine.pool
    pool._timeout = 0.2  # type: ignore[attr-defined]  # SQLAlchemy's QueuePool wait (30 s as made)
    held = [engine.connect() for _ in range(pool.size() + pool._max_overflow)]  # type: ignore[attr-defined]

    def read() -> int:
        with database.engine.connect() as conn:
            return int(conn.execute(text("SELECT 1")).scalar_one())

    client.app.add_api_route("/busy-session", read)  # type: ignore[attr-defined]
    answer = client.get("/busy-session")
    _busy(answer.status_code, answer.json(), dict(answer.headers))
    for conn in held:
        conn.close()
    assert client.get("/busy-session").json() == 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_transaction_the_database_ended_for_conflicting_work_is_a_503_database_busy(
    busy_app: tuple[TestClient, Database], sqlstate: str
) -> None:
    """A deadlock (an outside tester: an ALTER TABLE among reservations made its victims answer
    "the database cannot be reached") or a serialization failure, raised by PostgreSQL itself."""
    client, database = busy_app

    def conflict() -> None:
        with database.transaction() as session:
            raising = f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$"
            session.execute(text(raising))

    client.app.add_api_route("/conflict", conflict)  # type: ignore[attr-defined]
    answer = client.get("/conflict")
    _busy(answer.status_code, answer.json(), dict(answer.headers), why="conflicting work")
