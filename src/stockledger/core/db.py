"""Engine and sessions: `Database`. Every SQLite/PostgreSQL difference lives in core/: here the
engines, in core/statements.py the lean statements, in core/dialects.py the SQL that differs, in
core/write_behind.py pipelined writes and in core/async_pool.py the event loop's pool.

SQLite: WAL journal, foreign keys on, a busy timeout, and write transactions that
start with BEGIN IMMEDIATE so two writers queue instead of failing on lock upgrade.
PostgreSQL: psycopg 3, READ COMMITTED, a pool that checks idle connections on checkout, and
single-statement changes sent in autocommit on a pool of their own (Database.run_alone).

Each name is imported from the module that defines it: no re-exports here.
"""

import contextlib
import select
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import psycopg
from sqlalchemy import Engine, Select, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from stockledger.core.actor import bind_user
from stockledger.core.alone_pool import AloneConnection, AlonePool
from stockledger.core.citus import shards_by_facility
from stockledger.core.config import Settings, default
from stockledger.core.disconnects import READ_ONLY, RetryingReads, read_retrying
from stockledger.core.prepared_alone import stale_on_cursor
from stockledger.core.statements import (
    INDEX_PLANS,
    Statement,
    driver_error,
    first_row,
    lean_select,
    numbered,
    positional,
)

if TYPE_CHECKING:
    from stockledger.core.async_pool import AsyncPool

POOL_SIZE: int = default("db_pool_size")
# core/async_pool.py's too; that module (and psycopg_pool) is imported when the app opens its
# async pool, not by every command line that opens a Database
ASYNC_WAIT_SECONDS: float = default("async_wait_seconds")
IDLE_PING_SECONDS: float = default("idle_ping_seconds")
BUSY_TIMEOUT_SECONDS: float = default("sqlite_busy_timeout_seconds")

__all__ = [
    "Database",
    "configured_database",
    "make_engine",
    "normalize_url",
]


def normalize_url(url: str) -> str:
    """Let operators write postgresql:// and still get the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    pool_size: int = POOL_SIZE,
    idle_ping: float = IDLE_PING_SECONDS,
    busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    **kwargs: Any,
) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, busy_timeout, **kwargs)
    # hide_parameters: an error's text (logged, raised) never carries request data (order ids)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True, **kwargs)
    _ping_when_idle(engine, idle_ping)
    return engine


def _ping_when_idle(engine: Engine, idle_ping: float) -> None:
    """Pessimistic disconnect handling without a round trip on every checkout.

    `pool_pre_ping` costs one on every checkout (≈ 80 µs of CPU and a wait per reservation).
    Instead: an idle connection must have nothing to read, so if its socket is readable the
    server has said goodbye (a restart sends "terminating connection" and closes) and it is
    replaced, a syscall's cost; and a connection idle `idle_ping` seconds or more is pinged as
    before (a peer gone silently, behind a firewall).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        used_at = record.info.get("used_at")  # the pool clears info when it (re)connects
        if used_at is None:
            return  # connected just now: a replacement would be no fresher (the pool tries two)
        if select.select([dbapi_conn.fileno()], [], [], 0)[0]:
            raise exc.DisconnectionError("the server closed the idle connection")
        if time.monotonic() - used_at < idle_ping:
            return
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()  # leave it idle, not INTRANS: fetch_one switches it to autocommit
        except Exception as error:  # the pool retries with a new connection
            raise exc.DisconnectionError(str(error)) from error


def _sqlite_engine(url: str, busy_timeout: float, **kwargs: Any) -> Engine:
    """`busy_timeout`: seconds a statement waits for another connection's write lock (then
    "database is locked": a 503)."""
    connect_args = {"check_same_thread": False, "timeout": busy_timeout}
    engine = create_engine(url, connect_args=connect_args, hide_parameters=True, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        begin = "BEGIN" if conn.get_execution_options().get(READ_ONLY, False) else "BEGIN IMMEDIATE"
        try:  # on the driver: SQLAlchemy's statement machinery cost more than the BEGIN
            conn.connection.dbapi_connection.execute(begin)
        except sqlite3.OperationalError as error:  # "database is locked" past the busy timeout: a 503
            raise exc.OperationalError(begin, None, error) from error

    return engine


class Database:
    """One engine and its session factory (and, on PostgreSQL once opened, the async pool).

    `async_wait` bounds the wait for a connection of the async pool (then the thread path);
    `idle_ping`: a pooled connection idle that many seconds is pinged before use; `busy_timeout`
    (SQLite): a writer's wait for the write lock. The defaults are the settings' (core.config)."""

    def __init__(
        self,
        url: str,
        pool_size: int = POOL_SIZE,
        user: str | None = None,
        async_wait: float = ASYNC_WAIT_SECONDS,
        idle_ping: float = IDLE_PING_SECONDS,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        **kwargs: Any,
    ) -> None:
        self.engine = make_engine(url, pool_size, idle_ping, busy_timeout, **kwargs)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        # PostgreSQL: statements run alone (`run_alone`, `fetch_one`) on connections of their own,
        # in autocommit and planned to read by index (INDEX_PLANS), opened when first needed; no
        # ROLLBACK when one goes back to the pool: in autocommit there is no transaction to end
        self.alone_engine = (
            make_engine(
                url,
                pool_size=pool_size,
                idle_ping=idle_ping,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                **{**kwargs, "connect_args": {**kwargs.get("connect_args", {}), "options": INDEX_PLANS}},
            )
            if self.is_postgres
            else self.engine
        )
        # …taken, on PostgreSQL, through a pool lighter than SQLAlchemy's (core.alone_pool), its
        # connections made by alone_engine (its options, autocommit, its listeners on connect)
        self.alone_pool = (
            AlonePool(self._alone_connection, pool_size, idle_ping) if self.is_postgres else None
        )
        self.user = user  # who its write transactions act for (the CLI: core.actor.cli_user)
        self.pool_size = pool_size
        self.async_wait = async_wait
        self.idle_ping = idle_ping
        self.async_pool: AsyncPool | None = None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.engine, class_=RetryingReads, expire_on_commit=False)
        self.kind = self.engine.dialect.name  # "postgresql" or "sqlite": what /health reports
        self.after_alone: list[Callable[[str, int], None]] = []

    @property
    def writes_at_once(self) -> bool:
        """Whether transactions on several connections may write at the same time: PostgreSQL
        (SQLite takes one writer at a time, the others wait for its lock), not a Citus
        coordinator with workers (core.citus.shards_by_facility: there its writes stay one
        transaction at a time, as its fast paths are left alone)."""
        return self.is_postgres and not shards_by_facility(self.engine)

    @property
    def runs_alone(self) -> bool:
        """Whether a change may be one write statement sent alone in autocommit (run_alone, and
        on the event loop run_alone_async): its writes as data-modifying CTEs, so PostgreSQL; not a
        Citus coordinator with workers, which would plan such a statement in parts through the
        coordinator (core.citus.shards_by_facility: the ledger writes in steps there, each on the
        facility's shard, in the caller's transaction). Asked of the server once per engine."""
        return self.is_postgres and not shards_by_facility(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on error. An
        interrupt (Ctrl-C) first cancels the statement it may have left running on the server
        (one waiting on a row lock, say): the rollback would wait for it to end."""
        with self.sessions() as session, session.begin():
            if self.user is not None:
                bind_user(session, self.user)
            try:
                yield session
            except KeyboardInterrupt:
                cancel_running(session)
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (on SQLite it does not take the write lock); a statement whose
        connection was lost is sent once more on another (core.disconnects.RetryingReads)."""
        with self.read_sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            yield session  # closing rolls back without expiring what was read

    def fetch_one(self, statement: Select[Any], params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a read-only Core SELECT, for a hot read path (GET /v1/availability).

        On a pooled driver connection in autocommit (`_alone`): the statement is its own
        snapshot, one round trip, no BEGIN or ROLLBACK. Values come back as SQLAlchemy would
        return them (the columns' result processors). Skips the Connection/Result layers:
        ≈ 0.15 ms less per call.
        """
        sql, processors = lean_select(self.engine.dialect, statement)
        return first_row(processors, read_retrying(lambda: self._alone(sql, params)))

    def run_alone(self, statement: Statement) -> list[tuple[Any, ...]]:
        """One write statement as a transaction of its own (PostgreSQL): its rows as driver values.

        The statement is sent in autocommit, so BEGIN and COMMIT cost no round trip of their
        own and its row locks are held only while the server runs it: all of its writes commit
        together or none does (a single statement is atomic), which is why callers put every
        write of a change into one statement (data-modifying CTEs). Then each `after_alone`
        listener sees the SQL and the number of rows it returned (the metrics count ledger rows
        there, as they do on commit for the Session's statements).
        """
        if not self.runs_alone:
            raise RuntimeError("run_alone needs PostgreSQL: its data-modifying CTEs make one change")
        sql, values = numbered(statement)
        rows = self._alone(sql, values)
        for listener in self.after_alone:
            listener(sql, len(rows))
        return rows

    def _alone(
        self, sql: str, params: Mapping[str, Any] | list[Any], again: bool = True
    ) -> list[tuple[Any, ...]]:
        """`sql` on a pooled driver connection of `alone_pool` (PostgreSQL: autocommit, index
        plans) or, SQLite, `alone_engine` (its connections are in autocommit already); driver
        errors as SQLAlchemy's DBAPIError (a lost connection invalidated), so an outage is still a
        503. `params` a list: `sql` is `numbered`, prepared once per connection
        (core.prepared_alone). `stale_on_cursor`: the pool's connections replaced, `sql` sent again."""
        pool = self.alone_pool
        if pool is None:
            return self._alone_on_engine(sql, params)
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            pooled = pool.checkout()
        except dbapi_error as error:  # the server is down: a 503, as elsewhere
            raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error
        try:
            if isinstance(params, list):  # run_alone
                rows = _run_numbered(pooled, sql, params)
            else:  # fetch_one
                rows = _first(pooled.conn.cursor(), sql, params)
        except dbapi_error as error:
            if again and stale_on_cursor(error):  # nothing ran: the statement was its own transaction
                pool.invalidate(pooled)
                pool.dispose()  # its siblings may hold the statement too: closed as they come back
                return self._alone(sql, params, again=False)
            raise self._failed(pool, pooled, error, sql, params) from error
        except BaseException:
            pool.checkin(pooled)
            raise
        pool.checkin(pooled)
        return rows

    def _failed(
        self,
        pool: AlonePool,
        pooled: AloneConnection,
        error: Exception,
        sql: str,
        params: Mapping[str, Any] | list[Any],
    ) -> exc.StatementError:
        """The driver's `error` as SQLAlchemy's; its connection back to `pool`, closed if lost."""
        lost: list[bool] = []
        dialect = self.engine.dialect
        wrapped = driver_error(error, dialect, sql, params, pooled.conn, None, lambda: lost.append(True))
        if lost:
            pool.invalidate(pooled)
        else:
            pool.checkin(pooled)
        return wrapped

    def _alone_on_engine(self, sql: str, params: Mapping[str, Any] | list[Any]) -> list[tuple[Any, ...]]:
        """`fetch_one`'s statement on a pooled connection of `alone_engine` (SQLite)."""
        engine = self.alone_engine
        dialect = engine.dialect
        try:
            fairy = engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error) from error
        driver = fairy.dbapi_connection
        try:
            rows = _first(driver.cursor(), sql, params)  # type: ignore[union-attr]
        except dialect.loaded_dbapi.Error as error:
            raise driver_error(error, dialect, sql, params, driver, None, fairy.invalidate) from error
        finally:
            fairy.close()  # back to the pool
        return rows

    def _alone_connection(self) -> psycopg.Connection[Any]:
        """A new connection for `alone_pool`, made by `alone_engine` and then its pool's no more."""
        fairy = self.alone_engine.raw_connection()
        conn = fairy.dbapi_connection
        fairy.detach()
        return cast(psycopg.Connection[Any], conn)

    # ---- PostgreSQL on the event loop (core/async_pool.py): the hot routes without a thread hop ----

    async def open_async(self) -> None:
        """Open the async pool (autocommit connections) in the running event loop, for
        `run_alone_async` and `fetch_one_async`; the app's lifespan opens it and closes it
        (`close_async`). PostgreSQL only; without it the hot routes take the thread path."""
        if not self.is_postgres or self.async_pool is not None:
            return
        from stockledger.core.async_pool import open_pool

        self.async_pool = await open_pool(self.engine, self.pool_size, self.async_wait)

    async def close_async(self) -> None:
        pool, self.async_pool = self.async_pool, None
        if pool is not None:
            await pool.close()

    async def run_alone_async(self, statement: Statement) -> list[tuple[Any, ...]]:
        """`run_alone` on the event loop (the async pool must be open)."""
        sql, values = numbered(statement)
        rows = await self._alone_async(sql, values, read=False)
        for listener in self.after_alone:
            listener(sql, len(rows))
        return rows

    async def fetch_one_async(
        self, statement: Select[Any], params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """`fetch_one` on the event loop (the async pool must be open)."""
        sql, processors = lean_select(self.engine.dialect, statement)
        numbered_sql, values = positional(sql, params)  # on the connection's raw cursor
        return first_row(processors, await self._alone_async(numbered_sql, values, read=True))

    async def _alone_async(
        self, sql: str, params: Mapping[str, Any] | list[Any], read: bool
    ) -> list[tuple[Any, ...]]:
        pool = self.async_pool
        if pool is None:
            raise RuntimeError("the async pool is not open (Database.open_async)")
        from stockledger.core.async_pool import run_on_pool  # imported by open_async already

        return await run_on_pool(pool, self.engine, sql, params, read, self.idle_ping)

    def dispose(self) -> None:
        self.engine.dispose()
        self.alone_engine.dispose()  # the same engine on SQLite: disposing twice is harmless
        if self.alone_pool is not None:
            self.alone_pool.dispose()


def _run_numbered(pooled: AloneConnection, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    """A numbered statement's rows: on psycopg's protocol calls (core.prepared_alone) where it
    can, else on the connection's raw cursor. pgresult.nfields, not description: that builds
    Columns."""
    prepared = pooled.prepared
    if prepared.sendable():
        rows = prepared.run(sql, values)
        if rows is not None:
            return rows
    cursor = pooled.cursor
    cursor.execute(sql, values)
    result = cursor.pgresult
    return [tuple(row) for row in cursor.fetchall()] if result is not None and result.nfields else []


def _first(cursor: Any, sql: str, params: Mapping[str, Any] | list[Any]) -> list[tuple[Any, ...]]:
    """The first row of `sql` on a new driver cursor, as a list of none or one."""
    cursor.execute(sql, params)
    row = cursor.fetchone()
    return [] if row is None else [tuple(row)]


def configured_database(settings: Settings, url: str | None = None, user: str | None = None) -> Database:
    """The database of `settings` (or at `url`) with their pool size, async wait, idle ping and
    SQLite busy timeout."""
    return Database(
        url or settings.database_url,
        pool_size=settings.db_pool_size,
        user=user,
        async_wait=settings.async_wait_seconds,
        idle_ping=settings.idle_ping_seconds,
        busy_timeout=settings.sqlite_busy_timeout_seconds,
    )


def cancel_running(session: Session) -> None:
    """Ask the server to cancel what the session's connection runs (nothing running, nothing
    happens). Never raises: the caller is on its way out."""
    if session.in_transaction():
        canceller(session)()


def canceller(session: Session) -> Callable[[], None]:
    """A call that asks the server to cancel what the session's connection runs then, safe from
    another thread (psycopg's cancel request, on a connection of its own); on SQLite, or for a
    stand-in session (tests/unit/test_load_turns.py), a call that does nothing. It never raises."""
    if not isinstance(session, Session):
        return _nothing
    with contextlib.suppress(Exception):
        cancel = getattr(session.connection().connection.dbapi_connection, "cancel", None)
        if callable(cancel):
            return partial(_quietly, cancel)
    return _nothing


def backend_pid(session: Session) -> int | None:
    """The PostgreSQL backend process of the session's connection (None elsewhere)."""
    if not isinstance(session, Session):
        return None
    dbapi = session.connection().connection.dbapi_connection
    pid = getattr(getattr(dbapi, "info", None), "backend_pid", None)
    return pid if isinstance(pid, int) else None


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # the connection ended meanwhile, or the server is gone
        call()


def _nothing() -> None:
    return None
