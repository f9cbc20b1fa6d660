"""Bulk work on the driver, behind one call each: rows streamed into a table (`copy_rows`; on
SQLite also with values the database computes as it stores each row, `insert_computed`), rows
upserted (`upsert_copied`: new rows COPYed straight into their table, the others COPYed
into a temporary table, then one `INSERT … SELECT … ON CONFLICT`) and a transaction's memory
settings (`session_settings`). PostgreSQL: COPY FROM STDIN and set_config through the session's
own connection; SQLite: executemany, and nothing to set. Features never reach the driver's
connection themselves (tests/unit/test_database_differences.py)."""

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Table, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from stockledger.core.citus import shards_by_facility
from stockledger.core.dialects import upsert_rows
from stockledger.core.statements import (
    Processor,
    Statement,
    connection_of,
    driver_error,
    is_postgres,
    run,
    table_binders,
)
from stockledger.core.transactions import savepoint
from stockledger.core.upserts import Upserted, upsert_action
from stockledger.core.write_behind import WriteBehind, writes_behind

EXECUTEMANY_ROWS = 10_000  # SQLite: rows per executemany, so a long stream is never one list in memory
_TEMP_BUFFERS_TRIED = "stockledger.temp_buffers_tried"  # connection.info key
STAGE_PREFIX = "stage_"  # the staging table of `table`: a temporary table, dropped at commit


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """`rows` (values in `columns` order, as the driver takes them) appended to `table`, in the
    session's transaction; how many. PostgreSQL: one COPY FROM STDIN through the session's
    connection, each row written as it comes; SQLite: executemany INSERTs. `table` (a dotted
    name is schema and table) and `columns` are quoted as identifiers."""
    if is_postgres(session):
        return _copy(session, table, columns, rows)
    return _insert_many(session, table, columns, rows)


def _copy(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver = cast(psycopg.Connection[Any], session.connection().connection.driver_connection)
    count = 0
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        write = copy.write_row
        for row in rows:
            write(row)
            count += 1
    return count


def execute_many(session: Session, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]) -> int:
    """`statement` (an INSERT, UPDATE or DELETE with bind parameters) run once per row of `rows`
    (dicts with the same keys, values as the models take them), in the session's transaction;
    the rows it changed (PostgreSQL: an UPDATE's or DELETE's; -1 for an INSERT).
    PostgreSQL: SQLAlchemy's executemany. SQLite: the statement compiled once, each parameter's
    bind processor applied once per distinct value, then one driver executemany of tuples:
    SQLAlchemy's own executemany builds and processes a parameter dict per row, ≈ 60 µs a detail
    row of a 100,000-line reset (profiled), more than SQLite takes to insert it."""
    if not rows:
        return 0
    if is_postgres(session):
        return cast(int, session.execute(statement, list(rows)).rowcount)  # type: ignore[attr-defined]
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    names = compiled.positiontup or []
    missing = [n for n in names if n not in rows[0]]
    if missing:  # a column default or a value bound in the statement: SQLAlchemy's to apply
        raise ValueError(f"execute_many takes every parameter from the rows; missing {missing}")
    binders = cast(Mapping[str, Processor], compiled._bind_processors)  # per parameter (no tuples on SQLite)
    values = [_bound_column(binders.get(n), [row[n] for row in rows]) for n in names]
    count = 0
    for chunk in _chunks(zip(*values, strict=True), EXECUTEMANY_ROWS):
        count += connection.exec_driver_sql(compiled.string, chunk).rowcount
    return count


def _bound_column(binder: Processor, values: list[Any]) -> list[Any]:
    """A parameter's values as the driver takes them; a repeated value (an instant, a quantity)
    converted once."""
    if binder is None:
        return values
    done: dict[Any, Any] = {}
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        try:
            out.append(done[value])
        except KeyError:
            out.append(done.setdefault(value, binder(value)))
    return out


def _insert_many(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> int:
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    name = ".".join(quote(part) for part in table.split("."))
    insert = f"INSERT INTO {name} ({', '.join(map(quote, columns))}) VALUES ({', '.join('?' * len(columns))})"
    count = 0
    for chunk in _chunks(rows, EXECUTEMANY_ROWS):
        connection.exec_driver_sql(insert, chunk)
        count += len(chunk)
    return count


def insert_computed(
    session: Session, table: str, columns: Sequence[str], values: str, rows: Iterable[Sequence[object]]
) -> int:
    """SQLite: `rows` inserted into `table`'s `columns` by one executemany of `INSERT … VALUES
    (values)`, `values` being SQL over each row's values as ?1 … ?n, what the database computes of
    a row as it stores it (a reset line's plain quantity read as an integer: one pass, where a
    statement after the insert reads every row again); the rows streamed to the driver as they
    come, no list of them built. How many there were. (PostgreSQL streams rows with COPY,
    `copy_rows`, and computes in the statements after it.)"""
    if is_postgres(session):
        raise NotImplementedError("insert_computed: SQLite's executemany; PostgreSQL COPYs (copy_rows)")
    quote = session.connection().dialect.identifier_preparer.quote
    insert = f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES ({values})"
    driver = cast(sqlite3.Connection, session.connection().connection.driver_connection)
    cursor = driver.cursor()  # the driver's own executemany takes an iterator: rows stream through
    try:
        cursor.executemany(insert, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _chunks(rows: Iterable[Sequence[object]], size: int) -> Iterator[list[tuple[object, ...]]]:
    it = iter(rows)
    while chunk := [tuple(row) for row in islice(it, size)]:
        yield chunk


def session_settings(
    session: Session,
    *,
    work_mem: str | None = None,
    temp_buffers: str | None = None,
    jit: bool | None = None,
    fast_compression: bool = False,
) -> None:
    """PostgreSQL settings for bulk work in the session's transaction (SQLite: nothing to set).

    `work_mem` (the sorts and hashes of a big statement stay in memory) and `jit` (compiling
    the expressions of statements run once can cost seconds) hold until the transaction ends
    (set_config(…, true): SET LOCAL), as does `fast_compression`: the long values written
    (a bulk change's events) compressed with lz4 where the server has it, not pglz (a quarter
    of the CPU of a 100,000-line reset's events; readers decompress either). `temp_buffers`
    (the memory of the session's temporary tables, 8 MB by default: a big file's would be
    written out and read back) can only change before the connection's first temporary table:
    tried once per connection, in a savepoint, and kept by the connection; where it had a
    temporary table already, it stays as it was."""
    if not is_postgres(session):
        return
    if temp_buffers is not None:
        _room_for_temporary_tables(session, temp_buffers)
    local = {name: value for name, value in (("work_mem", work_mem), ("jit", _on_off(jit))) if value}
    if local:
        calls = ", ".join(f"set_config('{name}', :{name}, true)" for name in local)
        session.connection().execute(text(f"SELECT {calls}"), local)
    if fast_compression:
        session.connection().execute(text(_LZ4_IF_BUILT))


# No row (nothing set) where the server was built without lz4: setting it would be an error.
_LZ4_IF_BUILT = (
    "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def _on_off(flag: bool | None) -> str | None:
    return None if flag is None else ("on" if flag else "off")


def _room_for_temporary_tables(session: Session, temp_buffers: str) -> None:
    connection = session.connection()
    if connection.info.get(_TEMP_BUFFERS_TRIED):
        return
    connection.info[_TEMP_BUFFERS_TRIED] = True
    try:
        with savepoint(session):  # session.connection() in it: the SAVEPOINT is sent then, not before
            session.connection().execute(
                text("SELECT set_config('temp_buffers', :v, false)"), {"v": temp_buffers}
            )
    except DBAPIError:
        pass  # this session had a temporary table already: its buffers stay as they are


def _copy_columns(
    conn: Connection, table: str, columns: Sequence[str], values: list[tuple[object, ...]], text: str | None
) -> None:
    """COPY FROM STDIN of the rows given a column at a time (`values`): as `text` (COPY's
    format, `_copy_text`) when made, else row by row."""
    driver = conn.connection.dbapi_connection
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            if text is not None:
                copy.write(text)
            else:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as error:
        sent = str(statement)
        raise driver_error(error, conn.dialect, sent, {}, driver, cursor, conn.invalidate) from error


def _copy_text(columns: list[tuple[object, ...]]) -> str | None:
    """COPY's text format of the rows, made a column at a time (joins, where psycopg's
    write_row costs ≈ 6 µs a row); None when a value needs more than str(): a text holding a
    backslash, tab or line break, an aware datetime, a type other than text, integer and
    naive datetime."""
    texts: list[Sequence[str]] = []
    for values in columns:
        kinds = set(map(type, values))
        if not kinds <= _VERBATIM:
            return None
        if kinds == {str}:
            if _ESCAPED.search("".join(cast(tuple[str, ...], values))):
                return None
            texts.append(cast(tuple[str, ...], values))
            continue
        if str in kinds and _ESCAPED.search("".join(v for v in values if type(v) is str)):
            return None
        if datetime in kinds and any(v.tzinfo for v in values if isinstance(v, datetime)):
            return None
        if values.count(values[0]) == len(values):  # one value (a stamp, a facility's id): once
            texts.append([_NULL if values[0] is None else str(values[0])] * len(values))
        elif type(None) in kinds:
            texts.append([_NULL if v is None else str(v) for v in values])
        else:
            texts.append(list(map(str, values)))
    if not texts:
        return None
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


_VERBATIM: frozenset[type] = frozenset({str, int, datetime, type(None)})
_ESCAPED = re.compile(r"[\\\t\n\r]")
_NULL = "\\N"


def upsert_copied(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    keys: Sequence[str],
    insert_only: Sequence[str] = (),
    upserted: Upserted | None = None,
) -> None:
    """`rows` (Python values in `columns` order, each key once) INSERTed, or their other
    columns but `insert_only` UPDATEd where the key exists and one of them differs (DO NOTHING
    when none is left), as core.dialects.upsert_rows does; what it did counted into `upserted`
    (rows created, updated; the others unchanged). SQLite: upsert_rows.

    PostgreSQL: the rows (the columns' bind processors applied) COPYed straight into `table`
    when none of their keys is there (`_copied_as_new`); else COPYed into a temporary staging
    table of `table`'s columns (made once a transaction, ON COMMIT DROP), then one
    INSERT … SELECT … ON CONFLICT. In a `with WriteBehind(session)` block (core.write_behind:
    `writes_behind`), the direct COPY runs behind in a thread, or that INSERT is sent in
    pipeline mode, and either is awaited by the next call or at the settle: the server
    writes while the caller makes the next rows."""
    if not rows:
        return
    upserted = upserted if upserted is not None else Upserted()
    if not is_postgres(session):
        named = [dict(zip(columns, row, strict=True)) for row in rows]
        upsert_rows(session, table, named, keys, None, insert_only, upserted)
        return
    writes = writes_behind(session)
    values = _bound(session, table, columns, rows)
    text = _copy_text(values)  # made before waiting for the upsert sent last
    if writes is not None:
        writes.settle()
    conn = connection_of(session)
    copy = partial(_copy_columns, conn, table.name, columns, values, text)
    staged = partial(_upsert_staged, session, conn, table, columns, values, text, keys, insert_only, upserted)
    if not _copied_as_new(session, conn, table, copy, staged, partial(upserted.all_created, len(rows))):
        staged(writes)


def _upsert_staged(
    session: Session,
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    values: list[tuple[object, ...]],
    text: str | None,
    keys: Sequence[str],
    insert_only: Sequence[str],
    upserted: Upserted,
    writes: WriteBehind | None,
) -> None:
    """The rows COPYed into `table`'s staging table, then one INSERT … SELECT … ON CONFLICT
    (core.upserts.upsert_action: an unchanged row not written), sent behind when `writes`;
    what it did counted into `upserted` (at the writes' settle when behind)."""
    stage = f"pg_temp.{STAGE_PREFIX}{table.name}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS SELECT * FROM {table.name} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    _copy_columns(conn, stage, columns, values, text)
    changes = [c for c in columns if c not in keys and c not in insert_only]
    listed = ", ".join(columns)
    action = upsert_action(table.name, keys, changes)
    upsert = Statement(f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {stage} {action}", {})
    if writes is None:
        upserted.count_returned(run(session, upsert))
    else:
        writes.send(upsert, upserted.count_returned)


def _copied_as_new(
    session: Session,
    conn: Connection,
    table: Table,
    copy: Callable[[], None],
    staged: Callable[[WriteBehind | None], None],
    copied: Callable[[], None],
) -> bool:
    """The rows COPYed straight into `table` (`copy`, then `copied()`) when none of their keys
    is there yet (a first load): no staging table, no INSERT … SELECT and no ON CONFLICT. In a
    savepoint: a key already there (a reload, or a row another transaction added meanwhile)
    undoes it, and the rows go `staged` instead. In a `with WriteBehind` block the COPY runs
    behind (its thread waits for the server while the caller makes the next rows). Not tried
    for a table that had a key there before in this transaction, at most DIRECT_TRIES times a
    transaction (each savepoint takes a subtransaction id, of which a server process keeps 64
    in shared memory), and never on Citus: False, the rows are the caller's to stage."""
    tries = _tries(session)
    if table.name in tries.refused or tries.count >= DIRECT_TRIES or shards_by_facility(session):
        return False
    tries.count += 1
    conn.exec_driver_sql(f"SAVEPOINT {_DIRECT}")

    def done(error: BaseException | None) -> None:
        if error is None:
            conn.exec_driver_sql(f"RELEASE SAVEPOINT {_DIRECT}")
            copied()  # every row new
            return
        if getattr(getattr(error, "orig", None), "sqlstate", None) != UNIQUE_VIOLATION:
            raise error
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_DIRECT}")
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {_DIRECT}")
        tries.refused.add(table.name)
        staged(None)

    writes = writes_behind(session)
    if writes is not None:
        writes.behind(copy, done)
        return True
    failed: IntegrityError | None = None
    try:
        copy()
    except IntegrityError as error:
        failed = error
    done(failed)
    return True


DIRECT_TRIES = 32  # direct COPYs a transaction (the batches of a 50,000-product document take 30)
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE
_DIRECT = "stockledger_copied_as_new"  # the savepoint's name


@dataclass
class _Tries:
    """The direct COPYs of one transaction: how many, and the tables that had a key there."""

    transaction: object
    count: int = 0
    refused: set[str] = field(default_factory=set)


def _tries(session: Session) -> _Tries:
    transaction = session.get_transaction()
    tries = session.info.get(_TRIES)
    if not isinstance(tries, _Tries) or tries.transaction is not transaction:
        tries = session.info[_TRIES] = _Tries(transaction)
    return tries


_TRIES = "stockledger.copied_as_new"  # session.info key


def _bound(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[object, ...]]:
    """The rows a column at a time, each column's bind processor applied (a Fixed6 quantity as its
    millionths), once per distinct value of the column (a document repeats most)."""
    binders = table_binders(session.get_bind().dialect, table)
    processed = [(i, f) for i, c in enumerate(columns) if (f := binders[c]) is not None]
    by_column = list(zip(*rows, strict=True))
    for i, f in processed:
        values = by_column[i]
        try:
            once = {v: f(v) for v in set(values) if v is not None}
        except TypeError:  # a value that cannot be hashed: each processed on its own
            by_column[i] = tuple(None if v is None else f(v) for v in values)
            continue
        once[None] = None
        by_column[i] = tuple(map(once.__getitem__, values))
    return by_column


__all__ = ["copy_rows", "session_settings", "upsert_copied"]
