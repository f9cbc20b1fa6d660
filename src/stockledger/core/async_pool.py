"""PostgreSQL on the event loop: a psycopg async pool of autocommit connections for the hot routes
(`Database.run_alone_async`, `Database.fetch_one_async`), without a worker-thread hop.

Why: a route that hands its work to a worker thread pays the hop and, worse, waits for the GIL
between the event loop and that thread: measured on the 2-CPU machine, GET /v1/availability
served 649 requests/s through threads and 1,843 on the loop (bench/RESULTS.md).
"""

import asyncio
import select
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncRawCursor
from psycopg.abc import RV, PQGen
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Engine

from stockledger.core.config import default
from stockledger.core.prepared_alone import stale_on_cursor
from stockledger.core.prepared_alone_async import PreparedAloneAsync
from stockledger.core.socket_watch import SocketWatch, watches
from stockledger.core.statements import INDEX_PLANS, driver_error


class PooledConnection(AsyncConnection[tuple[Any, ...]]):
    """A connection of the async pool, with what its statements keep on it: its prepared
    statements (core.prepared_alone_async), its raw cursor for the rest, made once (a new cursor
    each call also looked up every value's dumper again), when it was last used (`_usable`), and
    its socket's watch (core.socket_watch: psycopg's waits without registering the socket with
    the loop again for each)."""

    prepared: PreparedAloneAsync | None = None
    raw_cursor: AsyncRawCursor[tuple[Any, ...]] | None = None
    used_at = 0.0
    watch: SocketWatch | None = None

    async def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        watch = self.watch
        if watch is None or timeout is not None:
            if watch is not None:  # psycopg's wait registers the socket itself: one owner at a time
                watch.stop()
            return await super().wait(gen, interval, timeout)
        # Interrupted (a cancelled task): psycopg would cancel the query on the server; here
        # the connection is left ACTIVE, and the pool closes a connection returned so.
        return await watch.wait(gen, self.pgconn)

    async def close(self) -> None:
        watch, self.watch = self.watch, None
        if watch is not None:
            watch.stop()  # before the socket closes: the loop must not watch a closed descriptor
        await super().close()


AsyncPool = AsyncConnectionPool[PooledConnection]

# Defaults of the settings STOCKLEDGER_ASYNC_WAIT_SECONDS and STOCKLEDGER_IDLE_PING_SECONDS.
ASYNC_WAIT_SECONDS: float = default("async_wait_seconds")
IDLE_PING_SECONDS: float = default("idle_ping_seconds")


class AsyncPoolUnavailable(Exception):
    """No connection of the async pool within its wait (ASYNC_WAIT_SECONDS: all busy, or the
    server is away and the pool reconnecting): nothing was sent; the caller takes the thread
    path, whose engine connects at once (or answers 503 at once when the server is down)."""


async def open_pool(engine: Engine, size: int, wait_seconds: float) -> AsyncPool:
    """An open pool of up to `size` autocommit connections to `engine`'s database, their plans
    reading by index (core.statements.INDEX_PLANS); a caller waits at most `wait_seconds` for one."""
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool: AsyncPool = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=size,
        connection_class=PooledConnection,
        kwargs={"autocommit": True, "options": INDEX_PLANS},  # plans that read by index
        open=False,
        name="stockledger-async",
        timeout=wait_seconds,
    )
    await pool.open()
    return pool


async def run_on_pool(
    pool: AsyncPool,
    engine: Engine,
    sql: str,
    params: Mapping[str, Any] | list[Any],
    read: bool,
    idle_ping: float,
) -> list[tuple[Any, ...]]:
    """`sql` in autocommit on a connection of `pool`; driver errors as SQLAlchemy's DBAPIError, so
    the problem handlers answer 503. AsyncPoolUnavailable: nothing sent. A `read` whose connection
    died is sent again on the next one (a write is not: the server may have committed it before
    the connection died). A connection idle `idle_ping` seconds or more is pinged first. `params`
    a list: `sql` is numbered (core.statements.numbered), prepared once per connection
    (core.prepared_alone_async)."""
    try:
        for _ in range(pool.max_size + 1):  # every pooled connection may have died with the server
            # getconn and putconn, not pool.connection(): that also commits on the way back, a
            # round of psycopg's machinery for nothing in autocommit (≈ 10 µs a statement)
            conn = await pool.getconn()
            try:
                rows = await _run_on(conn, engine, sql, params, read, idle_ping)
            finally:
                await pool.putconn(conn)  # a closed or busy connection is replaced
            if rows is not None:
                return rows
    except PoolTimeout as error:
        raise AsyncPoolUnavailable from error
    raise AsyncPoolUnavailable


async def _run_on(
    conn: PooledConnection,
    engine: Engine,
    sql: str,
    params: Mapping[str, Any] | list[Any],
    read: bool,
    idle_ping: float,
) -> list[tuple[Any, ...]] | None:
    """`run_on_pool` on one connection: its rows, or None when the next connection is to be tried
    (this one was closed by the server, or a read's died under it)."""
    if not await _usable(conn, idle_ping):
        return None  # closed: the pool drops it
    try:
        if isinstance(params, list):
            return await _run_numbered(conn, sql, params)
        cursor = conn.cursor()
        await cursor.execute(sql, params)
        return await _rows(cursor)
    except psycopg.Error as error:
        wrapped = driver_error(error, engine.dialect, sql, params, conn, None, _nothing)
        if read and wrapped.connection_invalidated:
            await conn.close()  # the pool drops it
            return None
        if stale_on_cursor(error):  # psycopg's cursor would send that name for good: a new one
            await conn.close()
        raise wrapped from error
    finally:
        conn.used_at = time.monotonic()


def _nothing() -> None:
    """A broken connection needs no invalidating here: the async pool drops it when returned."""


async def _run_numbered(conn: PooledConnection, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    """A numbered statement's rows: prepared (core.prepared_alone_async) where it can, else on
    the connection's raw cursor."""
    prepared = _prepared(conn)
    if prepared.sendable():
        rows = await prepared.run(sql, values)
        if rows is not None:
            return rows
    cursor = conn.raw_cursor
    if cursor is None:
        cursor = conn.raw_cursor = AsyncRawCursor(conn)
    await cursor.execute(sql, values)
    return await _rows(cursor)


async def _rows(cursor: psycopg.AsyncCursor[Any] | AsyncRawCursor[Any]) -> list[tuple[Any, ...]]:
    # pgresult.nfields, not description: that builds a Column per field (≈ 8 µs)
    result = cursor.pgresult
    return await cursor.fetchall() if result is not None and result.nfields else []


def _prepared(conn: PooledConnection) -> PreparedAloneAsync:
    """The connection's prepared statements; made with its socket's watch, on its first statement."""
    prepared = conn.prepared
    if prepared is None:
        prepared = conn.prepared = PreparedAloneAsync(conn)
        if watches(conn.pgconn):
            conn.watch = SocketWatch(conn.pgconn.socket, asyncio.get_running_loop())
    return prepared


async def _usable(conn: PooledConnection, idle_ping: float) -> bool:
    """The check of `core.db`'s engine on checkout, for the async pool: a readable idle socket
    means the server closed it (then it is closed here); a connection idle a while is pinged."""
    if select.select([conn.fileno()], [], [], 0)[0]:
        await conn.close()
        return False
    if time.monotonic() - conn.used_at >= idle_ping:
        try:
            await conn.execute("SELECT 1")
        except psycopg.OperationalError:
            await conn.close()
            return False
    return True
