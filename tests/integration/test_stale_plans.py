"""A column's type changed under the running service (an operator's `ALTER TABLE … ALTER COLUMN …
TYPE`, e.g. widening it): a statement a connection prepared before refuses to run ("cached plan
must not change result type", SQLSTATE 0A000) on that connection. The statements run alone are
prepared again and sent once more (core.prepared_alone, core.prepared_alone_async); another error
is not sent again. Each test has a database of its own: the schema change must not reach others."""

import asyncio
import json
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DataError, NotSupportedError

from stockledger.core import prepared_alone
from stockledger.core.db import Database
from stockledger.core.problems import database_problem
from stockledger.core.statements import Statement, numbered
from stockledger.ledger.models import Facility
from tests.databases import fresh_postgres

NAME = Statement("SELECT facility_id, facility_name FROM facility WHERE facility_id = :id", {"id": "F1"})
# nextval is not undone by the error that follows it: the sequence counts the executions
FAILING = Statement("SELECT 1 / (nextval('stale_plan_runs') * :zero)", {"zero": 0})
PREPARED = Statement(
    "SELECT name FROM pg_prepared_statements WHERE statement = :sql", {"sql": numbered(NAME)[0]}
)


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_postgres("stockledger_reprep") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO facility (facility_id, facility_name, costing_method_id, created_stamp)"
                " VALUES ('F1', 'North', 'FIFO', now())"
            )
            conn.execute("CREATE SEQUENCE stale_plan_runs")
        yield url


@pytest.fixture
def one(url: str) -> Iterator[Database]:
    """One connection a pool: the statement is run again on the connection that prepared it."""
    alone = Database(url, pool_size=1, async_wait=5)
    yield alone
    alone.dispose()


def _widen(url: str, length: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE facility ALTER COLUMN facility_name TYPE varchar({length})")


def _runs(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT last_value, is_called FROM stale_plan_runs").fetchone()
    assert row is not None
    return int(row[0]) if row[1] else 0


def test_a_statement_run_alone_runs_after_a_column_it_returns_changed_type(url: str, one: Database) -> None:
    assert one.run_alone(NAME) == [("F1", "North")]
    [(name,)] = one.run_alone(PREPARED)
    _widen(url, 500)
    assert one.run_alone(NAME) == [("F1", "North")]  # refused once, prepared again, sent again
    assert one.run_alone(PREPARED) == [(name,)]  # the same name, prepared once (not a second one)
    _widen(url, 1000)  # and again: each change is met the same way
    assert one.run_alone(NAME) == [("F1", "North")]


def test_a_statement_run_alone_on_the_event_loop_runs_after_a_column_it_returns_changed_type(
    url: str, one: Database
) -> None:
    async def on_the_loop() -> None:
        await one.open_async()
        try:
            assert await one.run_alone_async(NAME) == [("F1", "North")]
            [(name,)] = await one.run_alone_async(PREPARED)
            _widen(url, 500)
            assert await one.run_alone_async(NAME) == [("F1", "North")]
            assert await one.run_alone_async(PREPARED) == [(name,)]
            _widen(url, 1000)
            assert await one.run_alone_async(NAME) == [("F1", "North")]
        finally:
            await one.close_async()

    asyncio.run(on_the_loop())


def test_a_read_on_psycopgs_cursor_runs_after_a_column_it_returns_changed_type(
    url: str, one: Database
) -> None:
    """fetch_one's statement, prepared by psycopg's cursor from its sixth run: psycopg never drops
    that name, so the pool's connections are replaced and the statement sent once more."""
    read = select(Facility.facility_id, Facility.facility_name).where(Facility.facility_id == bindparam("id"))
    for _ in range(6):
        assert one.fetch_one(read, {"id": "F1"}) == ("F1", "North")
    _widen(url, 500)
    assert one.fetch_one(read, {"id": "F1"}) == ("F1", "North")
    assert one.fetch_one(read, {"id": "F1"}) == ("F1", "North")


def test_a_statement_run_alone_on_the_cursor_runs_after_a_column_it_returns_changed_type(
    url: str, one: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the names a connection prepares, on the raw cursor (psycopg prepares it from its
    sixth run): the pool's connections are replaced and the statement sent once more."""
    monkeypatch.setattr(prepared_alone, "PREPARED_MOST", 0)
    for _ in range(6):
        assert one.run_alone(NAME) == [("F1", "North")]
    _widen(url, 500)
    assert one.run_alone(NAME) == [("F1", "North")]


def test_on_the_event_loops_cursor_a_stale_plan_is_raised_once_and_its_connection_replaced(
    url: str, one: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The async pool's raw cursor (past the names a connection prepares): the refusal is raised
    (503 schema_changed), and the connection closed, so the next statement runs on a new one."""
    monkeypatch.setattr(prepared_alone, "PREPARED_MOST", 0)

    async def on_the_loop() -> None:
        await one.open_async()
        try:
            for _ in range(6):
                assert await one.run_alone_async(NAME) == [("F1", "North")]
            _widen(url, 500)
            with pytest.raises(NotSupportedError, match="cached plan must not change result type"):
                await one.run_alone_async(NAME)
            assert await one.run_alone_async(NAME) == [("F1", "North")]
        finally:
            await one.close_async()

    asyncio.run(on_the_loop())


def test_another_error_of_a_statement_run_alone_is_not_sent_again(url: str, one: Database) -> None:
    with pytest.raises(DataError, match="division by zero"):
        one.run_alone(FAILING)
    with pytest.raises(DataError, match="division by zero"):
        one.run_alone(FAILING)  # prepared now: its second run
    assert _runs(url) == 2


def test_another_error_of_a_statement_run_alone_on_the_event_loop_is_not_sent_again(
    url: str, one: Database
) -> None:
    async def on_the_loop() -> None:
        await one.open_async()
        try:
            for _ in range(2):
                with pytest.raises(DataError, match="division by zero"):
                    await one.run_alone_async(FAILING)
        finally:
            await one.close_async()

    asyncio.run(on_the_loop())
    assert _runs(url) == 2


def test_a_stale_plan_in_a_transaction_answers_503_schema_changed_and_the_next_one_runs(
    url: str, one: Database
) -> None:
    """In a session's transaction the refusal aborts it: nothing can be sent again there. The
    answer says what happened (the database is up): 503 schema_changed with Retry-After; the
    rollback makes psycopg drop its prepared statements, so the next transaction runs."""
    read = select(Facility.facility_name).where(Facility.facility_id == bindparam("id"))
    for _ in range(6):  # psycopg prepares it on its sixth run; committed, it stays prepared
        with one.engine.begin() as conn:
            assert conn.execute(read, {"id": "F1"}).all() == [("North",)]
    _widen(url, 500)
    with pytest.raises(NotSupportedError) as raised, one.engine.begin() as conn:
        conn.execute(read, {"id": "F1"})
    answer = database_problem("/v1/x", raised.value, {"Retry-After": "2"})
    body = json.loads(bytes(answer.body))
    assert (answer.status_code, body["code"], answer.headers["retry-after"]) == (503, "schema_changed", "2")
    assert (
        body["detail"]
        == "The database's schema changed while the request ran; nothing was changed; retry shortly"
    )
    with one.engine.begin() as conn:
        assert conn.execute(read, {"id": "F1"}).all() == [("North",)]
