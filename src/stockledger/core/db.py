"""Engine and sessions. Every SQLite/PostgreSQL difference lives in this module.

SQLite: WAL journal, foreign keys on, a busy timeout, and write transactions that
start with BEGIN IMMEDIATE so two writers queue instead of failing on lock upgrade.
PostgreSQL: psycopg 3, READ COMMITTED, a pool that checks idle connections on checkout, and
single-statement changes sent in autocommit (Database.run_alone).
"""

import re
import select
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import psycopg
from psycopg import AsyncConnection, AsyncRawCursor, RawCursor, pq
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    exc,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from stockledger.core.actor import bind_user
from stockledger.core.disconnects import READ_ONLY, RetryingReads, read_retrying


def normalize_url(url: str) -> str:
    """Let operators write postgresql:// and still get the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, pool_size: int = 10, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    # hide_parameters: an error's text (logged, raised) never carries request data (order ids)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True, **kwargs)
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip on every checkout.

    `pool_pre_ping` costs one on every checkout (≈ 80 µs of CPU and a wait per reservation).
    Instead: an idle connection must have nothing to read, so if its socket is readable the
    server has said goodbye (a restart sends "terminating connection" and closes) and it is
    replaced, a syscall's cost; and a connection idle for a while is pinged as before (a peer
    gone silently, behind a firewall).
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
        if time.monotonic() - used_at < IDLE_PING_SECONDS:
            return
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()  # leave it idle, not INTRANS: fetch_one switches it to autocommit
        except Exception as error:  # the pool retries with a new connection
            raise exc.DisconnectionError(str(error)) from error


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
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


def upsert(engine_or_session: Engine | Session, table: Any) -> Any:
    """INSERT … with the dialect's ON CONFLICT support (both dialects share its API)."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    if bind.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def one_of(
    session: Session, column: ColumnElement[Any] | InstrumentedAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN (values)`. PostgreSQL: `column = ANY(:array)`, one parameter whatever the count,
    so the statement's text is constant (psycopg parses it once, where an IN of 10,000
    placeholders is parsed afresh each time) and the planner still uses the index. SQLite: IN
    (the caller keeps `values` under its bind-parameter limit)."""
    if is_postgres(session):
        # a list, not array_literal: SQLAlchemy types that parameter VARCHAR, and a cast of it to
        # an array is evaluated per row (a 1,000,000-line reset stalled in such a scan)
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def plan_each_statement(session: Session) -> None:
    """PostgreSQL: plan every statement of this transaction for its own parameters
    (plan_cache_mode = force_custom_plan). For a bulk load that fills its tables as it goes: a
    prepared statement's generic plan, chosen while a table was nearly empty (a sequential
    scan), would stay in use as it grows (measured: a 200,000-line initial reset spent 0.5 s
    growing to 2.4 s per batch in one such SELECT). SQLite: nothing to do."""
    if is_postgres(session):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def next_value_expression(session: Session, name: str) -> tuple[str, dict[str, int]]:
    """SQL for the next value of sequence `name`, to put inside a statement: `nextval` on
    PostgreSQL; on SQLite the counter row is moved now and the value is a parameter."""
    if is_postgres(session):
        return f"nextval('{name}')", {}
    rows = run(session, Statement(_SQLITE_NEXT, {"n": name}))
    if not rows:
        run(
            session,
            Statement("INSERT INTO sequence_value (sequence_name, last_value) VALUES (:n, 1)", {"n": name}),
        )
        return ":next_value", {"next_value": 1}
    return ":next_value", {"next_value": int(rows[0][0])}


_SQLITE_NEXT = (
    "UPDATE sequence_value SET last_value = last_value + 1 WHERE sequence_name = :n RETURNING last_value"
)


# ---- lean statements: the hot paths' SQL, on the driver, without SQLAlchemy's statement layer ----


_LEAN_SELECTS: dict[tuple[str, int], tuple[str, tuple[Callable[[Any], Any] | None, ...]]] = {}


def _lean_select(
    dialect: Dialect, statement: Select[Any]
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    """`statement` compiled once per dialect with named parameters (`%(name)s` for psycopg,
    `:name` for sqlite3), and the result processor of each selected column."""
    key = (dialect.name, id(statement))
    lean = _LEAN_SELECTS.get(key)
    if lean is None:
        if dialect.name == "sqlite":
            dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
        sql = str(statement.compile(dialect=dialect))
        processors = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns
        )
        lean = _LEAN_SELECTS[key] = (sql, processors)
    return lean


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with `:name` parameters whose values are in the driver's form (`bound`)."""

    sql: str
    params: Mapping[str, Any]


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
NUMBERED_CACHE_SIZE = 256  # distinct statements run alone: a handful in practice
_PYFORMAT: dict[str, str] = {}
_BINDERS: dict[tuple[str, str], dict[str, Callable[[Any], Any] | None]] = {}
_FETCHERS: dict[tuple[str, int], Callable[[Any], Any] | None] = {}


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def bound(on: Session | Dialect, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` (column name → Python value) as the driver wants them, for the session's (or the
    given) dialect: the columns' own bind processors (Fixed6 → micro-units, UtcDateTime → naive
    UTC, SQLite's date strings)."""
    dialect = on.get_bind().dialect if isinstance(on, Session) else on
    binders = _binders(dialect, table)
    return {k: (v if (f := binders[k]) is None or v is None else f(v)) for k, v in values.items()}


def _binders(dialect: Dialect, table: Table) -> dict[str, Callable[[Any], Any] | None]:
    binders = _BINDERS.get((dialect.name, table.name))
    if binders is None:
        binders = _BINDERS[(dialect.name, table.name)] = {
            c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns
        }
    return binders


def fetched(dialect: Dialect, columns: Sequence[Column[Any]], row: Sequence[Any]) -> tuple[Any, ...]:
    """A driver row read by a lean statement, as SQLAlchemy would have returned it."""
    return fetched_rows(dialect, columns, [row])[0]


def fetched_rows(
    dialect: Dialect, columns: Sequence[Column[Any]], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """`fetched` for many rows: each column's result processor looked up once."""
    processors = []
    for column in columns:
        key = (dialect.name, id(column))
        if key not in _FETCHERS:
            _FETCHERS[key] = column.type.dialect_impl(dialect).result_processor(dialect, None)
        processors.append(_FETCHERS[key])
    return [
        tuple(v if f is None or v is None else f(v) for f, v in zip(processors, row, strict=True))
        for row in rows
    ]


def from_arrays(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: `rows` (all with the same keys, Python values) as ONE query, to follow
    `INSERT INTO table (keys…)`: `SELECT a.col, :k_col::type, … FROM unnest(:a_col::type[], …)`,
    one array per column whose values differ between rows and one parameter per column whose
    value is the same in all (the columns' bind processors applied). A handful of parameters
    however many rows: the statement compiles and plans once, where executemany sends a
    statement per row (and each array costs psycopg ≈ 2.5 µs a value to send).
    """
    dialect = session.get_bind().dialect
    binders = _binders(dialect, table)
    selected: list[str] = []
    arrays: list[str] = []  # the unnest arguments
    varying: list[str] = []  # and their column names
    params: dict[str, Any] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        f = binders[name]
        first = values[0]
        sql_type = table.c[name].type.compile(dialect)
        if values.count(first) == len(values):
            selected.append(f":k_{name}::{sql_type}")
            params[f"k_{name}"] = first if f is None or first is None else f(first)
        else:
            selected.append(f"a.{name}")
            arrays.append(f":a_{name}::{sql_type}[]")
            varying.append(name)
            params[f"a_{name}"] = array_literal(
                values if f is None else [v if v is None else f(v) for v in values]
            )
    if not arrays:  # one distinct row, as many times as given
        source = f"generate_series(1, {len(rows)}) AS a (n)"
    else:
        source = f"unnest({', '.join(arrays)}) AS a ({', '.join(varying)})"
    return f"SELECT {', '.join(selected)} FROM {source}", params


def array_literal(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of `values` (str, int, None, or anything whose str() the
    column's type parses, such as a datetime), to send as one text parameter cast to the
    array's type (`:p::text[]`). psycopg sends a list value by value, with a regular
    expression per string (≈ 2.5 µs a value); this is one join."""
    kinds = set(map(type, values))
    if kinds == {str}:
        escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + '","'.join(escaped) + '"}'
    if kinds == {int}:
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def locking(session: Session, select_sql: str, order_by: str) -> str:
    """`select_sql` taking row locks in `order_by` order: ORDER BY … FOR UPDATE on PostgreSQL.
    SQLite: as it is, since the write transaction (BEGIN IMMEDIATE) holds the database lock
    already (and an ORDER BY on the primary key there made the planner scan the whole table)."""
    return f"{select_sql} ORDER BY {order_by} FOR UPDATE" if is_postgres(session) else select_sql


def _driver_sql(session: Session, sql: str) -> str:
    return _driver_sql_for(session.get_bind().dialect, sql)


def numbered(statement: Statement) -> tuple[str, list[Any]]:
    """PostgreSQL: `statement` with PostgreSQL's own placeholders ($1, $2…; a name used twice is
    one parameter) and its values in that order, for a raw cursor, which sends the text as it
    is. psycopg parses a %(name)s statement on every run once it is over 4,096 bytes or 50
    parameters (it caches only smaller ones): the one-statement reservation, at 4,456 bytes,
    spent 0.26 ms of client CPU a call there (profiled), half of its Python time."""
    sql, names = _numbered_sql(statement.sql)
    return sql, [statement.params[name] for name in names]


@lru_cache(maxsize=NUMBERED_CACHE_SIZE)
def _numbered_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    return _NAMED.sub(number, sql), tuple(names)


def _driver_sql_for(dialect: Dialect, sql: str) -> str:
    if dialect.name != "postgresql":
        return sql  # sqlite3 takes :name as it is
    converted = _PYFORMAT.get(sql)
    if converted is None:
        converted = _PYFORMAT[sql] = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
    return converted


def run(session: Session, statement: Statement) -> list[tuple[Any, ...]]:
    """Execute one lean statement in the session's transaction; its rows as driver values.

    Straight on the driver's cursor: SQLAlchemy's result set-up cost more than the statement
    (≈ 0.1 ms each); its cursor events still fire and driver errors still arrive as
    SQLAlchemy's (a lost connection invalidated), so error handling and metrics see no difference.
    """
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as session.execute would: pending ORM changes go first
    conn = _connection(session)
    sql = _driver_sql(session, statement.sql)
    cursor = _execute(conn, sql, statement.params)
    rows = _rows(cursor, sql)  # the answer is in already: fetching it cannot fail on the server
    if conn.dispatch.after_cursor_execute:
        conn.dispatch.after_cursor_execute(conn, cursor, sql, statement.params, None, False)
    return rows


def _execute(conn: Connection, sql: str, params: Mapping[str, Any]) -> Any:
    """`sql` on a new driver cursor of `conn`, after its before_cursor_execute event; a driver
    error raised as SQLAlchemy's (`run`, and `WriteBehind.send` in pipeline mode)."""
    driver = conn.connection.dbapi_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    if conn.dispatch.before_cursor_execute:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, False)
    try:
        cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as error:
        raise _wrapped(error, conn.dialect, sql, params, driver, cursor, conn.invalidate) from error
    return cursor


RowsCheck = Callable[[list[tuple[Any, ...]]], None]


class WriteBehind:
    """Writes whose answers can wait, in the session's transaction.

    PostgreSQL: `send` puts a statement on the wire in pipeline mode and returns at once. The
    server runs it while Python goes on: an ERP reset prepares its next batch. `settle` waits
    for every answer sent so far. It raises the first driver error as `run` would, fires the
    cursor events then, when row counts are known (metrics count ledger rows from them), and
    calls each statement's `check` with its rows. So nothing sent is taken as done before
    settle; the caller settles before it reads or commits. SQLite: `send` runs the statement
    at once, since there is no server to overlap with.

    A `with` block settles on leaving. On an error it only leaves pipeline mode, and the
    transaction rolls back.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pipeline: ExitStack | None = None
        self._sent: list[tuple[Any, str, Mapping[str, Any], RowsCheck | None]] = []

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.settle()
        elif self._pipeline is not None:
            pipeline, self._pipeline, self._sent = self._pipeline, None, []
            with suppress(Exception):  # the block's own error is the one to report
                pipeline.close()

    def send(self, statement: Statement, check: RowsCheck | None = None) -> None:
        """Send `statement`; `check(rows)` runs at settle (its exception then stops the caller)."""
        session = self.session
        if not is_postgres(session):
            rows = run(session, statement)
            if check is not None:
                check(rows)
            return
        if session.new or session.dirty or session.deleted:
            self.settle()  # pending ORM changes are flushed outside pipeline mode, first
            session.flush()
        conn = _connection(session)
        if self._pipeline is None:
            pipeline = ExitStack()
            pipeline.enter_context(conn.connection.dbapi_connection.pipeline())  # type: ignore[union-attr]
            self._pipeline = pipeline
        sql = _driver_sql(session, statement.sql)
        self._sent.append((_execute(conn, sql, statement.params), sql, statement.params, check))

    def settle(self) -> None:
        """Wait for every answer sent; driver errors raised as SQLAlchemy's, then the checks.

        When a statement failed, the checks of the answers before it run first: a check that
        fails there names the cause (an UPDATE that found its rows changed makes the next
        INSERT collide), as it would have if each statement had been waited for."""
        if self._pipeline is None:
            return
        pipeline, self._pipeline = self._pipeline, None
        sent, self._sent = self._sent, []
        conn = _connection(self.session)
        try:
            pipeline.close()  # sync: every answer read, the first error raised
        except conn.dialect.loaded_dbapi.Error as error:
            answered = [entry for entry in sent if _answered(entry[0])]
            for cursor, sql, _, check in answered:
                if check is not None:
                    check(_rows(cursor, sql))
            cursor, sql, params, _ = sent[len(answered)] if len(answered) < len(sent) else sent[-1]
            driver = conn.connection.dbapi_connection
            raise _wrapped(error, conn.dialect, sql, params, driver, cursor, conn.invalidate) from error
        for cursor, sql, params, check in sent:
            if conn.dispatch.after_cursor_execute:
                conn.dispatch.after_cursor_execute(conn, cursor, sql, params, None, False)
            if check is not None:
                check(_rows(cursor, sql))


def _answered(cursor: Any) -> bool:
    result = cursor.pgresult
    return result is not None and result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


def _rows(cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in cursor.fetchall()] if _returns_rows(sql) else []


_CONNECTION = "stockledger_lean_connection"


def _connection(session: Session) -> Connection:
    """session.connection(), remembered for the session's current transaction (≈ 30 µs a call)."""
    transaction = session.get_transaction()
    remembered = session.info.get(_CONNECTION)
    if remembered is not None and transaction is not None and remembered[0] is transaction:
        return cast(Connection, remembered[1])
    conn = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), conn)
    return conn


def _wrapped(
    error: Any,
    dialect: Dialect,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any],
    driver: Any,
    cursor: Any,
    invalidate: Callable[[], object],
) -> exc.StatementError:
    """A driver error as SQLAlchemy raises it (IntegrityError, OperationalError…); a lost
    connection is invalidated first, as SQLAlchemy does."""
    lost = dialect.is_disconnect(error, driver, cursor)
    if lost:
        invalidate()
    base: type[Exception] = dialect.loaded_dbapi.Error
    wrapped: exc.StatementError = exc.DBAPIError.instance(
        sql, params, error, base, hide_parameters=True, connection_invalidated=lost
    )
    return wrapped


def _returns_rows(sql: str) -> bool:
    returns = _RETURNS.get(sql)
    if returns is None:
        returns = _RETURNS[sql] = sql.startswith(("SELECT", "WITH")) or " RETURNING " in sql
    return returns


_RETURNS: dict[str, bool] = {}


def run_together(session: Session, statements: Sequence[Statement]) -> list[tuple[Any, ...]]:
    """Execute writes as one unit; returns the rows of the first (which has a RETURNING clause).

    PostgreSQL: ONE statement and one round trip, each write a data-modifying CTE (they share one
    snapshot and must not depend on each other's rows: the caller supplies every value). SQLite:
    the statements in order (no network to save). A caller that finds the first statement's rows
    wanting raises, and the transaction (hence all of it) is rolled back.
    """
    if not is_postgres(session):
        first = run(session, statements[0])
        for statement in statements[1:]:
            run(session, statement)
        return first
    texts = tuple(statement.sql for statement in statements)
    combined = _COMBINED.get(texts)
    if combined is None:
        parts = (f"s{n} AS ({_prefixed(sql, f's{n}_')})" for n, sql in enumerate(texts))
        combined = _COMBINED[texts] = f"WITH {', '.join(parts)} SELECT * FROM s0"
    params = {f"s{n}_{k}": v for n, statement in enumerate(statements) for k, v in statement.params.items()}
    return run(session, Statement(combined, params))


_COMBINED: dict[tuple[str, ...], str] = {}


def _prefixed(sql: str, prefix: str) -> str:
    return _NAMED.sub(lambda name: f":{prefix}{name.group(1)}", sql)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, pool_size: int = 10, user: str | None = None, **kwargs: Any) -> None:
        self.engine = make_engine(url, pool_size=pool_size, **kwargs)
        self.user = user  # who its write transactions act for (the CLI: core.actor.cli_user)
        self.pool_size = pool_size
        self.async_pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] | None = None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.engine, class_=RetryingReads, expire_on_commit=False)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.after_alone: list[Callable[[str, int], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            if self.user is not None:
                bind_user(session, self.user)
            yield session

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
        sql, processors = _lean_select(self.engine.dialect, statement)
        return _first_row(processors, read_retrying(lambda: self._alone(sql, params, many=False)))

    def run_alone(self, statement: Statement) -> list[tuple[Any, ...]]:
        """One write statement as a transaction of its own (PostgreSQL): its rows as driver values.

        The statement is sent in autocommit, so BEGIN and COMMIT cost no round trip of their
        own and its row locks are held only while the server runs it: all of its writes commit
        together or none does (a single statement is atomic), which is why callers put every
        write of a change into one statement (data-modifying CTEs). Then each `after_alone`
        listener sees the SQL and the number of rows it returned (the metrics count ledger rows
        there, as they do on commit for the Session's statements).
        """
        if not self.is_postgres:
            raise RuntimeError("run_alone needs PostgreSQL: its data-modifying CTEs make one change")
        sql, values = numbered(statement)
        rows = self._alone(sql, values, many=True)
        for listener in self.after_alone:
            listener(sql, len(rows))
        return rows

    def _alone(self, sql: str, params: Mapping[str, Any] | list[Any], many: bool) -> list[tuple[Any, ...]]:
        """`sql` on a pooled driver connection, PostgreSQL in autocommit (SQLite's connections are
        in autocommit already); driver errors as SQLAlchemy's DBAPIError (a lost connection
        invalidated), so an outage is still a 503. `params` a list: `sql` is `numbered`, sent
        on a raw cursor."""
        dialect = self.engine.dialect
        try:
            fairy = self.engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:  # the server is down: a 503, as elsewhere
            raise exc.DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error) from error
        driver = fairy.dbapi_connection
        try:
            raw = isinstance(params, list)
            cursor = RawCursor(cast(psycopg.Connection[Any], driver)) if raw else driver.cursor()  # type: ignore[union-attr]
            if self.is_postgres:
                driver.autocommit = True  # type: ignore[union-attr]
                with driver.pipeline():  # type: ignore[union-attr]
                    driver.cursor().execute(INDEX_PLANS)  # type: ignore[union-attr]
                    cursor.execute(sql, params)
            else:
                cursor.execute(sql, params)
            if many:
                rows = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            else:
                row = cursor.fetchone()
                rows = [] if row is None else [tuple(row)]
            if self.is_postgres:
                driver.autocommit = False  # type: ignore[union-attr]
        except dialect.loaded_dbapi.Error as error:
            raise _wrapped(error, dialect, sql, params, driver, None, fairy.invalidate) from error
        finally:
            fairy.close()  # back to the pool; an aborted autocommit switch is reset there (rollback)
        return rows

    # ---- PostgreSQL on the event loop: the hot routes without a worker-thread hop ----

    async def open_async(self) -> None:
        """Open a psycopg async pool (autocommit connections) in the running event loop, for
        `run_alone_async` and `fetch_one_async`; the app's lifespan opens it and closes it
        (`close_async`). PostgreSQL only; without it the hot routes take the thread path.

        Why: a route that hands its work to a worker thread pays the hop and, worse, waits for
        the GIL between the event loop and that thread: measured on the 2-CPU machine,
        GET /v1/availability served 649 requests/s through threads and 1,843 on the loop
        (bench/RESULTS.md)."""
        if not self.is_postgres or self.async_pool is not None:
            return
        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=self.pool_size,
            kwargs={"autocommit": True},
            open=False,
            name="stockledger-async",
            timeout=ASYNC_WAIT_SECONDS,
        )
        await pool.open()
        self.async_pool = pool

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
        sql, processors = _lean_select(self.engine.dialect, statement)
        return _first_row(processors, await self._alone_async(sql, params, read=True))

    async def _alone_async(
        self, sql: str, params: Mapping[str, Any] | list[Any], read: bool
    ) -> list[tuple[Any, ...]]:
        """`sql` in autocommit on a connection of the async pool; driver errors as SQLAlchemy's
        DBAPIError, so the problem handlers answer 503. AsyncPoolUnavailable: nothing sent. A
        `read` whose connection died is sent again on the next one (a write is not: the server
        may have committed it before the connection died)."""
        pool = self.async_pool
        if pool is None:
            raise RuntimeError("the async pool is not open (Database.open_async)")
        dialect = self.engine.dialect
        try:
            for _ in range(self.pool_size + 1):  # every pooled connection may have died with the server
                async with pool.connection() as conn:
                    if not await _usable(conn):
                        continue  # closed: the pool drops it; the next one
                    try:
                        async with conn.pipeline():
                            await conn.execute(INDEX_PLANS)
                            cursor = AsyncRawCursor(conn) if isinstance(params, list) else conn.cursor()
                            await cursor.execute(sql, params)
                        # pgresult.nfields, not description: that builds a Column per field (≈ 8 µs)
                        result = cursor.pgresult
                        rows = await cursor.fetchall() if result is not None and result.nfields else []
                    except psycopg.Error as error:
                        wrapped = _wrapped(error, dialect, sql, params, conn, None, _nothing)
                        if read and wrapped.connection_invalidated:
                            await conn.close()  # the pool drops it; the next one
                            continue
                        raise wrapped from error
                    finally:
                        _ASYNC_USED[conn] = time.monotonic()
                    return rows
        except PoolTimeout as error:
            raise AsyncPoolUnavailable from error
        raise AsyncPoolUnavailable

    def dispose(self) -> None:
        self.engine.dispose()


def _first_row(
    processors: Sequence[Callable[[Any], Any] | None], rows: Sequence[Sequence[Any]]
) -> tuple[Any, ...] | None:
    """The first row read by a lean SELECT, with its columns' result processors applied."""
    if not rows:
        return None
    return tuple(v if f is None or v is None else f(v) for f, v in zip(processors, rows[0], strict=True))


ASYNC_WAIT_SECONDS = 0.5
# Sent before each statement run alone (PostgreSQL), in the same implicit transaction (one
# pipeline, one round trip): its plan takes an index wherever one serves. These statements are
# prepared (psycopg, after 5 runs) and PostgreSQL may then keep a generic plan made from the
# statistics of that moment: made while order_item was small (a deployment's first
# reservations), the one-statement reservation scanned the whole table on every later run as it
# grew (measured: 2,600 rows read a reservation after 6,000 of them; 8 workers 2-3x slower,
# bench/RESULTS.md). Every statement run alone reads its rows by key: none needs a
# sequential scan.
INDEX_PLANS = "SELECT set_config('enable_seqscan', 'off', true)"


class AsyncPoolUnavailable(Exception):
    """No connection of the async pool within ASYNC_WAIT_SECONDS (all busy, or the server is away
    and the pool reconnecting): nothing was sent; the caller takes the thread path, whose engine
    connects at once (or answers 503 at once when the server is down)."""


def _nothing() -> None:
    """A broken connection needs no invalidating here: the async pool drops it when returned."""


_ASYNC_USED: "weakref.WeakKeyDictionary[Any, float]" = weakref.WeakKeyDictionary()


async def _usable(conn: AsyncConnection[Any]) -> bool:
    """The check of `_ping_when_idle`, for the async pool: a readable idle socket means the
    server closed it (then it is closed here); a connection idle a while is pinged."""
    if select.select([conn.fileno()], [], [], 0)[0]:
        await conn.close()
        return False
    if time.monotonic() - _ASYNC_USED.get(conn, 0.0) >= IDLE_PING_SECONDS:
        try:
            await conn.execute("SELECT 1")
        except psycopg.OperationalError:
            await conn.close()
            return False
    return True
