"""The connections that run statements alone (PostgreSQL): each keeps its raw cursor between
statements, and a connection the server closed is replaced with a cursor of its own."""

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest

from stockledger.core.db import Database
from stockledger.core.statements import Statement

PID = Statement("WITH me AS (SELECT pg_backend_pid() AS pid) SELECT pid FROM me", {})


def _terminate(db: Database, pid: int) -> None:
    url = db.engine.url.set(drivername="postgresql").render_as_string(False)
    # autocommit: in a transaction pg_stat_activity is one snapshot, and the wait below never ends
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # until the server has closed it: the pool's check sees a readable socket then
        deadline = time.monotonic() + 30
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there 30 s after its termination"
            time.sleep(0.01)


@pytest.fixture
def one(db_url: str) -> Iterator[Database]:
    """One connection a pool (the async pool's replacement waited for, on a loaded machine too)."""
    alone = Database(db_url, pool_size=1, async_wait=5)
    yield alone
    alone.dispose()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_keeps_one_raw_cursor_per_connection(one: Database) -> None:
    first = one.run_alone(PID)
    with one.alone_engine.connect() as conn:  # the pool's one connection, as run_alone finds it
        cursor = conn.connection.info.get("stockledger_raw_cursor")
    assert cursor is not None
    assert one.run_alone(PID) == first
    with one.alone_engine.connect() as conn:
        assert conn.connection.info.get("stockledger_raw_cursor") is cursor


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_after_the_server_closed_its_connection_runs_on_a_new_one(one: Database) -> None:
    [(pid,)] = one.run_alone(PID)
    _terminate(one, pid)
    [(again,)] = one.run_alone(PID)  # the checkout finds the socket readable: a new connection
    assert again != pid
    assert one.run_alone(PID) == [(again,)]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_async_pool_keeps_a_cursor_per_connection_and_replaces_a_closed_one(one: Database) -> None:
    async def on_the_loop() -> tuple[int, int, int]:
        await one.open_async()
        try:
            [(pid,)] = await one.run_alone_async(PID)
            assert one.async_pool is not None
            async with one.async_pool.connection() as conn:
                cursor = conn.raw_cursor
            assert cursor is not None
            assert await one.run_alone_async(PID) == [(pid,)]
            async with one.async_pool.connection() as conn:
                assert conn.raw_cursor is cursor
            await asyncio.to_thread(_terminate, one, pid)
            [(again,)] = await one.run_alone_async(PID)
            [(last,)] = await one.run_alone_async(PID)
            return pid, again, last
        finally:
            await one.close_async()

    pid, again, last = asyncio.run(on_the_loop())
    assert again != pid
    assert last == again
