"""Bulk work on the driver, behind one call each: rows streamed into a table (`copy_rows`) and a
transaction's memory settings (`session_settings`). PostgreSQL: COPY FROM STDIN and
set_config through the session's own connection; SQLite: executemany, and nothing to set.
Features never reach the driver's connection themselves (tests/unit/test_database_differences.py)."""

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stockledger.core.statements import is_postgres
from stockledger.core.transactions import savepoint

EXECUTEMANY_ROWS = 10_000  # SQLite: rows per executemany, so a long stream is never one list in memory
_TEMP_BUFFERS_TRIED = "stockledger.temp_buffers_tried"  # connection.info key


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
) -> None:
    """PostgreSQL settings for bulk work in the session's transaction (SQLite: nothing to set).

    `work_mem` (the sorts and hashes of a big statement stay in memory) and `jit` (compiling
    the expressions of statements run once can cost seconds) hold until the transaction ends
    (set_config(…, true): SET LOCAL). `temp_buffers` (the memory of the session's temporary
    tables, 8 MB by default: a big file's would be written out and read back) can only change
    before the connection's first temporary table: tried once per connection, in a savepoint,
    and kept by the connection; where it had a temporary table already, it stays as it was."""
    if not is_postgres(session):
        return
    if temp_buffers is not None:
        _room_for_temporary_tables(session, temp_buffers)
    local = {name: value for name, value in (("work_mem", work_mem), ("jit", _on_off(jit))) if value}
    if local:
        calls = ", ".join(f"set_config('{name}', :{name}, true)" for name in local)
        session.connection().execute(text(f"SELECT {calls}"), local)


def _on_off(flag: bool | None) -> str | None:
    return None if flag is None else ("on" if flag else "off")


def _room_for_temporary_tables(session: Session, temp_buffers: str) -> None:
    connection = session.connection()
    if connection.info.get(_TEMP_BUFFERS_TRIED):
        return
    connection.info[_TEMP_BUFFERS_TRIED] = True
    try:
        with savepoint(session):
            connection.execute(text("SELECT set_config('temp_buffers', :v, false)"), {"v": temp_buffers})
    except DBAPIError:
        pass  # this session had a temporary table already: its buffers stay as they are
