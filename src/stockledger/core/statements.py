"""Lean statements: the hot paths' SQL straight on the driver, without SQLAlchemy's statement layer.

A `Statement` is SQL text with `:name` parameters whose values are already in the driver's form
(`bound`). `run` executes one in the session's transaction, `run_together` several as one unit;
SQLAlchemy's cursor events still fire and driver errors still arrive as SQLAlchemy's, so error
handling and metrics see no difference.

What these compile or convert is remembered in small LRU caches (`STATEMENT_CACHE_SIZE` entries
each, functools.lru_cache): SQL text varies with a batch's shape (a generated series of N rows,
the columns that vary), so an unbounded cache keyed by it would grow with every new shape.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Column, Connection, Engine, Select, Table, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from stockledger.core.config import at_import

# Entries per cache of this module (SQL text → driver text, statements → compiled SQL, columns →
# result processors, tables → bind processors). The application has a few hundred distinct
# statements; a batch's SQL differs with its shape, and beyond this the least recently used goes.
STATEMENT_CACHE_SIZE: int = at_import("statement_cache_size")  # sized as the module is imported

Processor = Callable[[Any], Any] | None
RowsCheck = Callable[[list[tuple[Any, ...]]], None]

# The libpq options of every connection that runs statements alone (PostgreSQL: core.db's pool
# for them, core.async_pool): their plans take an index wherever one serves. These statements are
# prepared (psycopg, after 5 runs) and PostgreSQL may then keep a generic plan made from the
# statistics of that moment: made while order_item was small (a deployment's first
# reservations), the one-statement reservation scanned the whole table on every later run as it
# grew (measured: 2,600 rows read a reservation after 6,000 of them; 8 workers 2-3x slower,
# bench/RESULTS.md). Every statement run alone reads its rows by key: none needs a sequential
# scan. Set for the connection's session, not by a statement before each one: those connections
# run nothing else, and the extra statement (pipelined with the one it served) cost ≈ 40 µs of
# client CPU a call (bench/RESULTS.md, session 8).
INDEX_PLANS = "-c enable_seqscan=off"


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with `:name` parameters whose values are in the driver's form (`bound`)."""

    sql: str
    params: Mapping[str, Any]


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


# What a statement's values are bound for (or its rows read from): a session or an engine (their
# database's driver), or that driver's dialect. Features pass a session or an engine and never
# look at the dialect themselves.
BindTarget = Session | Engine | Dialect


def dialect_of(on: BindTarget) -> Dialect:
    if isinstance(on, Session):
        return on.get_bind().dialect
    return on.dialect if isinstance(on, Engine) else on


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def lean_select(dialect: Dialect, statement: Select[Any]) -> tuple[str, tuple[Processor, ...]]:
    """`statement` compiled once per dialect with named parameters (`%(name)s` for psycopg,
    `:name` for sqlite3), and the result processor of each selected column."""
    if dialect.name == "sqlite":
        dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
    sql = str(statement.compile(dialect=dialect))
    processors = tuple(
        c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns
    )
    return sql, processors


def first_row(processors: Sequence[Processor], rows: Sequence[Sequence[Any]]) -> tuple[Any, ...] | None:
    """The first row read by a lean SELECT, with its columns' result processors applied."""
    if not rows:
        return None
    return tuple(v if f is None or v is None else f(v) for f, v in zip(processors, rows[0], strict=True))


def bound(on: BindTarget, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` (column name → Python value) as the driver wants them, for the session's (the
    engine's, or the given) dialect: the columns' own bind processors (Fixed6 → micro-units,
    UtcDateTime → naive UTC, SQLite's date strings)."""
    binders = table_binders(dialect_of(on), table)
    return {k: (v if (f := binders[k]) is None or v is None else f(v)) for k, v in values.items()}


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def table_binders(dialect: Dialect, table: Table) -> dict[str, Processor]:
    """Each column's bind processor for `dialect` (None: the value goes as it is)."""
    return {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns}


def fetched(on: BindTarget, columns: Sequence[Column[Any]], row: Sequence[Any]) -> tuple[Any, ...]:
    """A driver row read by a lean statement (in `on`: a session, an engine, a dialect), as
    SQLAlchemy would have returned it."""
    return fetched_rows(on, columns, [row])[0]


def fetched_rows(
    on: BindTarget, columns: Sequence[Column[Any]], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """`fetched` for many rows: each column's result processor looked up once."""
    dialect = dialect_of(on)
    processors = [_result_processor(dialect, column) for column in columns]
    return [
        tuple(v if f is None or v is None else f(v) for f, v in zip(processors, row, strict=True))
        for row in rows
    ]


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _result_processor(dialect: Dialect, column: Column[Any]) -> Processor:
    return column.type.dialect_impl(dialect).result_processor(dialect, None)


def numbered(statement: Statement) -> tuple[str, list[Any]]:
    """PostgreSQL: `statement` with PostgreSQL's own placeholders ($1, $2…; a name used twice is
    one parameter) and its values in that order, for a raw cursor, which sends the text as it
    is. psycopg parses a %(name)s statement on every run once it is over 4,096 bytes or 50
    parameters (it caches only smaller ones): the one-statement reservation, at 4,456 bytes,
    spent 0.26 ms of client CPU a call there (profiled), half of its Python time."""
    sql, names = _dollar_numbered(_NAMED, statement.sql)
    return sql, [statement.params[name] for name in names]


def positional(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """A psycopg `%(name)s` statement (lean_select's, PostgreSQL) with PostgreSQL's own
    placeholders and `params` in their order, for a raw cursor: the statement PostgreSQL gets
    is the same, and the client skips a cursor made per call and the mapping of names
    (GET /v1/availability: ≈ 9 µs of a worker's CPU a request, bench/RESULTS.md)."""
    numbered_sql, names = _dollar_numbered(_PYFORMAT, sql)
    return numbered_sql, [params[name] for name in names]


_PYFORMAT = re.compile(r"%\(([A-Za-z_]\w*)\)s|%%")


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _dollar_numbered(placeholder: re.Pattern[str], sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with each name `placeholder` matches (its group 1) as $1, $2… (a name used twice is
    one number), and the names in that order; a match without a name is psycopg's escaped
    percent sign (`%%`), which a raw cursor sends as it is: `%`."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    return placeholder.sub(number, sql), tuple(names)


def driver_sql(dialect: Dialect, sql: str) -> str:
    """`sql` with its `:name` parameters as the driver takes them (psycopg: `%(name)s`)."""
    if dialect.name != "postgresql":
        return sql  # sqlite3 takes :name as it is
    return _pyformat(sql)


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _pyformat(sql: str) -> str:
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


def run(session: Session, statement: Statement) -> list[tuple[Any, ...]]:
    """Execute one lean statement in the session's transaction; its rows as driver values.

    Straight on the driver's cursor: SQLAlchemy's result set-up cost more than the statement
    (≈ 0.1 ms each); its cursor events still fire and driver errors still arrive as
    SQLAlchemy's (a lost connection invalidated), so error handling and metrics see no difference.
    """
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as session.execute would: pending ORM changes go first
    conn = connection_of(session)
    sql = driver_sql(conn.dialect, statement.sql)
    cursor = execute_on(conn, sql, statement.params)
    rows = rows_of(cursor, sql)  # the answer is in already: fetching it cannot fail on the server
    if conn.dispatch.after_cursor_execute:
        conn.dispatch.after_cursor_execute(conn, cursor, sql, statement.params, None, False)
    return rows


def execute_on(conn: Connection, sql: str, params: Mapping[str, Any]) -> Any:
    """`sql` on a new driver cursor of `conn`, after its before_cursor_execute event; a driver
    error raised as SQLAlchemy's (`run`, and `WriteBehind.send` in pipeline mode)."""
    driver = conn.connection.dbapi_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    if conn.dispatch.before_cursor_execute:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, False)
    try:
        cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as error:
        raise driver_error(error, conn.dialect, sql, params, driver, cursor, conn.invalidate) from error
    return cursor


def rows_of(cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    """The rows a lean statement's cursor holds (none for a statement that returns none)."""
    return [tuple(row) for row in cursor.fetchall()] if _returns_rows(sql) else []


_CONNECTION = "stockledger_lean_connection"


def connection_of(session: Session) -> Connection:
    """session.connection(), remembered for the session's current transaction (≈ 30 µs a call)."""
    transaction = session.get_transaction()
    remembered = session.info.get(_CONNECTION)
    if remembered is not None and transaction is not None and remembered[0] is transaction:
        return cast(Connection, remembered[1])
    conn = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), conn)
    return conn


def driver_error(
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


NOT_NULL_VIOLATION = "23502"  # PostgreSQL's SQLSTATE


def violates_not_null(error: Exception, table: str, column: str) -> bool:
    """`error` (SQLAlchemy's, as raised) is the NOT NULL constraint of `table`.`column` refusing a
    row. PostgreSQL names both in the error's diagnostics; Citus relays a worker's violation
    without them (its message names the shard), so there the failed statement must be an
    INSERT INTO `table`. SQLite: its message names them."""
    orig = getattr(error, "orig", None)
    diag = getattr(orig, "diag", None)
    if diag is None:
        return f"NOT NULL constraint failed: {table}.{column}" in str(orig)
    if diag.sqlstate != NOT_NULL_VIOLATION:
        return False
    if diag.table_name is not None:
        return bool(diag.table_name == table and diag.column_name == column)
    statement = getattr(error, "statement", None) or ""
    return str(statement).startswith(f"INSERT INTO {table} (")


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _returns_rows(sql: str) -> bool:
    return sql.startswith(("SELECT", "WITH")) or " RETURNING " in sql


def run_together(session: Session, statements: Sequence[Statement]) -> list[tuple[Any, ...]]:
    """Execute writes as one unit; returns the rows of the first (which has a RETURNING clause).

    PostgreSQL: ONE statement and one round trip, each write a data-modifying CTE (they share one
    snapshot and must not depend on each other's rows: the caller supplies every value). SQLite:
    the statements in order (no network to save), and none after a first statement that returned
    no row (a guard that refused): nothing else is written. A caller that finds the first
    statement's rows wanting raises, and the transaction is rolled back (on PostgreSQL, the
    other writes with it).
    """
    if not is_postgres(session):
        first = run(session, statements[0])
        if first:
            for statement in statements[1:]:
                run(session, statement)
        return first
    combined = _combined(tuple(statement.sql for statement in statements))
    params = {f"s{n}_{k}": v for n, statement in enumerate(statements) for k, v in statement.params.items()}
    return run(session, Statement(combined, params))


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _combined(texts: tuple[str, ...]) -> str:
    parts = (f"s{n} AS ({_prefixed(sql, f's{n}_')})" for n, sql in enumerate(texts))
    return f"WITH {', '.join(parts)} SELECT * FROM s0"


def _prefixed(sql: str, prefix: str) -> str:
    return _NAMED.sub(lambda name: f":{prefix}{name.group(1)}", sql)


# Every cache of this module (the test that they stay bounded reads their cache_info()).
CACHES = (
    lean_select,
    table_binders,
    _result_processor,
    _pyformat,
    _dollar_numbered,
    _returns_rows,
    _combined,
)
