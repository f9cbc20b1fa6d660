"""The connections that run statements alone (PostgreSQL): each prepares a statement once (the sync
pool, core.prepared_alone) or keeps its raw cursor between statements (the async pool), and a
connection the server closed is replaced with one of its own."""

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import uvloop
from sqlalchemy.exc import DBAPIError, IntegrityError, TimeoutError

from stockledger.core import prepared_alone, socket_watch
from stockledger.core.alone_pool import AloneConnection, AlonePool
from stockledger.core.async_pool import PooledConnection
from stockledger.core.db import Database
from stockledger.core.statements import Statement

SHORT_SLEEP = Statement("SELECT 7 FROM pg_sleep(0.3)", {})
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
def test_run_alone_prepares_each_statement_once_per_connection(one: Database) -> None:
    """core.prepared_alone: the statement is prepared under a name of ours on its first run, and
    every later run sends that name (psycopg's cursor would prepare it on its sixth)."""
    first = one.run_alone(PID)
    assert one.run_alone(PID) == first
    assert one.run_alone(PID) == first
    names = Statement("SELECT name, statement FROM pg_prepared_statements ORDER BY name", {})
    prepared = one.run_alone(names)
    assert [name for name, _ in prepared] == ["stockledger_alone_0", "stockledger_alone_1"]
    assert prepared[0][1] == PID.sql


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_returns_driver_values_and_raises_the_servers_errors_as_sqlalchemys(one: Database) -> None:
    """Values of several types in and out (None, numbers, text, a timestamp), a statement that
    returns no rows, and a failing one: SQLAlchemy's IntegrityError, the connection still usable."""
    one.run_alone(Statement("CREATE TEMP TABLE alone_t (k int PRIMARY KEY, v text, at timestamp)", {}))
    at = datetime(2026, 1, 2, 3, 4, 5, 600000)
    insert = Statement("INSERT INTO alone_t VALUES (:k, :v, :at)", {"k": 1, "v": None, "at": at})
    assert one.run_alone(insert) == []
    with pytest.raises(IntegrityError) as raised:
        one.run_alone(insert)
    assert not raised.value.connection_invalidated
    rows = one.run_alone(Statement("SELECT k, v, at, :d::numeric FROM alone_t", {"d": Decimal("1.5")}))
    assert rows == [(1, None, at, Decimal("1.5"))]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_past_the_names_a_connection_prepares_runs_on_the_cursor(
    one: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared_alone, "PREPARED_MOST", 1)
    [(pid,)] = one.run_alone(PID)
    other = Statement("SELECT :n::int + 1, pg_backend_pid()", {"n": 41})
    assert one.run_alone(other) == [(42, pid)]
    names = one.run_alone(Statement("SELECT count(*) FROM pg_prepared_statements", {}))
    assert names == [(1,)]  # PID's only: the others went on the cursor, not yet prepared by psycopg


def _on_the_loop(one: Database, statements: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`statements` on the async pool of `one`, opened for them and closed after."""

    async def on_the_loop() -> None:
        await one.open_async()
        try:
            await statements()
        finally:
            await one.close_async()

    asyncio.run(on_the_loop())


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_async_prepares_each_statement_once_per_connection(one: Database) -> None:
    """core.prepared_alone_async: as on the thread path, prepared under a name of ours on its
    first run, then that name sent (psycopg's raw cursor prepared it on its sixth)."""

    async def statements() -> None:
        first = await one.run_alone_async(PID)
        assert await one.run_alone_async(PID) == first
        assert await one.run_alone_async(PID) == first
        names = Statement("SELECT name, statement FROM pg_prepared_statements ORDER BY name", {})
        prepared = await one.run_alone_async(names)
        assert [name for name, _ in prepared] == ["stockledger_alone_0", "stockledger_alone_1"]
        assert prepared[0][1] == PID.sql

    _on_the_loop(one, statements)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_async_returns_driver_values_and_raises_the_servers_errors_as_sqlalchemys(
    one: Database,
) -> None:
    """The thread path's values and errors on the event loop: the same rows, IntegrityError with
    the connection still usable (not invalidated, the same backend after it)."""

    async def statements() -> None:
        create = "CREATE TEMP TABLE alone_t (k int PRIMARY KEY, v text, at timestamp)"
        assert await one.run_alone_async(Statement(create, {})) == []
        at = datetime(2026, 1, 2, 3, 4, 5, 600000)
        insert = Statement("INSERT INTO alone_t VALUES (:k, :v, :at)", {"k": 1, "v": None, "at": at})
        assert await one.run_alone_async(insert) == []
        [(pid,)] = await one.run_alone_async(PID)
        with pytest.raises(IntegrityError) as raised:
            await one.run_alone_async(insert)
        assert not raised.value.connection_invalidated
        rows = Statement("SELECT k, v, at, :d::numeric FROM alone_t", {"d": Decimal("1.5")})
        assert await one.run_alone_async(rows) == [(1, None, at, Decimal("1.5"))]
        assert await one.run_alone_async(PID) == [(pid,)]

    _on_the_loop(one, statements)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_async_past_the_names_a_connection_prepares_runs_on_the_cursor(
    one: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared_alone, "PREPARED_MOST", 1)

    async def statements() -> None:
        [(pid,)] = await one.run_alone_async(PID)
        other = Statement("SELECT :n::int + 1, pg_backend_pid()", {"n": 41})
        assert await one.run_alone_async(other) == [(42, pid)]
        names = await one.run_alone_async(Statement("SELECT count(*) FROM pg_prepared_statements", {}))
        assert names == [(1,)]  # PID's only: the others went on the raw cursor, not yet prepared

    _on_the_loop(one, statements)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_after_the_server_closed_its_connection_runs_on_a_new_one(one: Database) -> None:
    [(pid,)] = one.run_alone(PID)
    _terminate(one, pid)
    [(again,)] = one.run_alone(PID)  # the checkout finds the socket readable: a new connection
    assert again != pid
    assert one.run_alone(PID) == [(again,)]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_async_pool_keeps_its_prepared_statements_per_connection_and_replaces_a_closed_one(
    one: Database,
) -> None:
    async def on_the_loop() -> tuple[int, int, int]:
        await one.open_async()
        try:
            [(pid,)] = await one.run_alone_async(PID)
            assert one.async_pool is not None
            async with one.async_pool.connection() as conn:
                prepared = conn.prepared
            assert prepared is not None
            assert await one.run_alone_async(PID) == [(pid,)]
            async with one.async_pool.connection() as conn:
                assert conn.prepared is prepared
            await asyncio.to_thread(_terminate, one, pid)
            [(again,)] = await one.run_alone_async(PID)
            [(last,)] = await one.run_alone_async(PID)
            return pid, again, last
        finally:
            await one.close_async()

    pid, again, last = asyncio.run(on_the_loop())
    assert again != pid
    assert last == again


SLEEP = Statement("WITH me AS (SELECT pg_backend_pid() AS pid) SELECT pid, pg_sleep(30) FROM me", {})
LOOPS = [asyncio.run, uvloop.run]  # the tests' loop, and the one `serve` runs on


async def _pooled(db: Database) -> PooledConnection:
    assert db.async_pool is not None
    async with db.async_pool.connection() as conn:
        return conn


def _first_and_next_backend(
    one: Database,
    run: Callable[[Coroutine[Any, Any, tuple[int, int]]], tuple[int, int]],
    between: Callable[[int], Coroutine[Any, Any, None]],
) -> tuple[int, int]:
    """On `run`'s loop: the backend of a first statement on the async pool, `between` given its
    pid, and the backend of the next statement."""

    async def on_the_loop() -> tuple[int, int]:
        await one.open_async()
        try:
            [(pid,)] = await one.run_alone_async(PID)
            await between(pid)
            [(again,)] = await one.run_alone_async(PID)
            return pid, again
        finally:
            await one.close_async()

    return run(on_the_loop())


@pytest.mark.parametrize("run", LOOPS)
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_watched_socket_the_server_closed_is_no_longer_watched(
    one: Database, run: Callable[[Coroutine[Any, Any, tuple[int, int]]], tuple[int, int]]
) -> None:
    """core.socket_watch: the socket stays watched between statements; the server closing an idle
    connection makes it readable with nobody waiting, and the watch stops (no busy loop) before
    the pool closes the connection; the next statement runs on a new connection."""

    async def server_closes(pid: int) -> None:
        conn = await _pooled(one)
        assert conn.watch is not None
        assert conn.watch.watching
        await asyncio.to_thread(_terminate, one, pid)
        await asyncio.sleep(0.05)  # a loop turn or more: the watch sees the readable socket
        assert not conn.watch.watching

    pid, again = _first_and_next_backend(one, run, server_closes)
    assert again != pid


@pytest.mark.parametrize("run", LOOPS)
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_statement_whose_connection_dies_fails_and_the_next_runs_on_a_new_one(
    one: Database, run: Callable[[Coroutine[Any, Any, tuple[int, int]]], tuple[int, int]]
) -> None:
    """libpq closes a broken connection's socket in the wait itself: the watch stops there, the
    write fails (the server may have committed it: not sent again), the next runs elsewhere."""

    async def dies_mid_statement(pid: int) -> None:
        killer = asyncio.create_task(asyncio.to_thread(_terminate_soon, one, pid))
        with pytest.raises(DBAPIError):
            await one.run_alone_async(SLEEP)
        await killer

    pid, again = _first_and_next_backend(one, run, dies_mid_statement)
    assert again != pid


@pytest.mark.parametrize("run", LOOPS)
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_cancelled_statement_leaves_no_connection_behind(
    one: Database, run: Callable[[Coroutine[Any, Any, tuple[int, int]]], tuple[int, int]]
) -> None:
    """A task cancelled while its statement runs: the pool closes the connection left active
    (and its watch stops first); the next statement runs on a new connection."""

    async def cancelled_mid_statement(pid: int) -> None:
        task = asyncio.create_task(one.run_alone_async(SLEEP))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    pid, again = _first_and_next_backend(one, run, cancelled_mid_statement)
    assert again != pid


def _terminate_soon(db: Database, pid: int) -> None:
    time.sleep(0.3)  # the statement is running by then
    _terminate(db, pid)


@pytest.mark.parametrize("run", LOOPS)
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_wait_with_a_timeout_is_psycopgs_and_the_watch_resumes_after_it(
    one: Database, run: Callable[[Coroutine[Any, Any, int]], int]
) -> None:
    """psycopg registers the socket itself for a wait with a timeout (notifies): the watch stops
    for it (one owner of the socket at a time) and takes it again at the next statement."""

    async def on_the_loop() -> int:
        await one.open_async()
        try:
            [(pid,)] = await one.run_alone_async(PID)
            conn = await _pooled(one)
            assert conn.watch is not None
            assert [n async for n in conn.notifies(timeout=0.05)] == []
            assert not conn.watch.watching
            [(again,)] = await asyncio.wait_for(one.run_alone_async(PID), 30)  # not hanging
            assert conn.watch.watching
            return int(pid == again)
        finally:
            await one.close_async()

    assert run(on_the_loop()) == 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_run_alone_whose_connection_dies_mid_statement_is_invalidated_and_the_next_reconnects(
    one: Database,
) -> None:
    """The sync pool (core.alone_pool): SQLAlchemy's DBAPIError with connection_invalidated (the
    API's 503), the lost connection closed and its slot freed, the next statement on a new one."""
    [(pid,)] = one.run_alone(PID)
    killer = threading.Thread(target=_terminate_soon, args=(one, pid))
    killer.start()
    with pytest.raises(DBAPIError) as raised:
        one.run_alone(SLEEP)
    killer.join()
    assert raised.value.connection_invalidated
    assert one.alone_pool is not None
    assert one.alone_pool.checkedin() == 0
    [(again,)] = one.run_alone(PID)
    assert again != pid


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_alone_pool_opens_twice_its_size_at_most_and_keeps_its_size(one: Database) -> None:
    """SQLAlchemy's pool_size and max_overflow as the engine had them (1 and 1 here): a third
    caller waits, then gets SQLAlchemy's TimeoutError; the overflow connection closes on return."""
    pool = AlonePool(one._alone_connection, size=1, idle_ping=30, timeout=0.2)
    first, second = pool.checkout(), pool.checkout()
    assert first.conn is not second.conn
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="AlonePool limit of size 1 overflow 1"):
        pool.checkout()
    assert time.monotonic() - started >= 0.2
    pool.checkin(first)
    pool.checkin(second)
    assert pool.checkedin() == 1
    assert second.conn.closed
    assert not first.conn.closed
    assert pool.checkout() is first  # idle, usable: taken again
    pool.checkin(first)
    pool.dispose()
    assert first.conn.closed


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_caller_waiting_for_the_alone_pool_gets_the_connection_given_back(one: Database) -> None:
    pool = AlonePool(one._alone_connection, size=1, idle_ping=30, timeout=10)
    first, second = pool.checkout(), pool.checkout()
    taken: list[AloneConnection] = []
    waiter = threading.Thread(target=lambda: taken.append(pool.checkout()))
    waiter.start()
    time.sleep(0.1)
    assert not taken  # waiting
    pool.checkin(first)
    waiter.join(5)
    assert taken == [first]
    pool.checkin(second)
    pool.checkin(first)
    pool.dispose()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_dispose_closes_the_idle_connections_and_those_in_use_as_they_come_back(one: Database) -> None:
    [(pid,)] = one.run_alone(PID)
    pool = one.alone_pool
    assert pool is not None
    in_use = pool.checkout()
    one.dispose()
    assert in_use.conn.closed is False
    pool.checkin(in_use)
    assert in_use.conn.closed
    assert pool.checkedin() == 0
    [(again,)] = one.run_alone(PID)  # a disposed Database connects again, as SQLAlchemy's engine does
    assert again != pid


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_alone_pool_serves_threads_within_its_bound(db_url: str) -> None:
    """The HTTP server's threads share it: every statement answered, never more than 2 × size
    backends at once."""
    db = Database(db_url, pool_size=2)
    pids: list[int] = []

    def calls() -> None:
        for _ in range(40):
            [(pid,)] = db.run_alone(PID)
            pids.append(pid)

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pids) == 320
    assert len(set(pids)) <= 4
    assert db.alone_pool is not None
    assert db.alone_pool.checkedin() <= 2
    db.dispose()


@pytest.mark.parametrize("idle_ping", [0.0, 30.0])
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_connection_idle_idle_ping_seconds_is_pinged_at_checkout(db_url: str, idle_ping: float) -> None:
    """core.db's pool check, kept: idle `idle_ping` seconds or more, a ping first (its last query on
    the server is then SELECT 1); idle less, none."""
    db = Database(db_url, pool_size=1, idle_ping=idle_ping)
    [(pid,)] = db.run_alone(PID)
    pool = db.alone_pool
    assert pool is not None
    taken = pool.checkout()
    url = db.engine.url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as conn:
        last = conn.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    assert last == (("SELECT 1",) if idle_ping == 0 else (PID.sql,))
    pool.checkin(taken)
    db.dispose()


@pytest.mark.parametrize("run", LOOPS)
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_wait_whose_socket_the_loop_stopped_watching_ends_by_the_watchdog(
    one: Database, run: Callable[[Coroutine[Any, Any, list[tuple[Any, ...]]]], list[tuple[Any, ...]]]
) -> None:
    """core.socket_watch: the loop losing a watched socket's registration (as uvloop did under
    killed connections) costs the wait OVERDUE_SECONDS or two, not forever: the watchdog registers
    the socket afresh and reads its readiness itself."""

    async def registration_lost() -> list[tuple[Any, ...]]:
        await one.open_async()
        try:
            conn = await _pooled(one)  # the pool's one connection, its watch made by a statement
            await one.run_alone_async(PID)
            assert conn.watch is not None
            assert conn.watch.watching
            statement = asyncio.create_task(one.run_alone_async(SHORT_SLEEP))
            await asyncio.sleep(0.05)  # the statement waits for its answer
            asyncio.get_running_loop().remove_reader(conn.pgconn.socket)  # behind the watch's back
            return await asyncio.wait_for(statement, socket_watch.OVERDUE_SECONDS * 2 + 2)
        finally:
            await one.close_async()

    assert run(registration_lost()) == [(7,)]
