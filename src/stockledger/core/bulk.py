"""Bulk writes of many rows: COPY on PostgreSQL, one executemany on SQLite.

`copy_rows` streams rows into a table (COPY FROM STDIN through the session's connection);
`upsert_copied` upserts rows through a temporary staging table: COPY into it, then one
`INSERT … SELECT … ON CONFLICT` into the table, the set-based shape a raw client uses (a
seed document of 50,000 products: no statement and no Python dict per row).
"""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from psycopg import sql
from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

from stockledger.core.dialects import upsert_rows
from stockledger.core.statements import (
    Statement,
    connection_of,
    driver_error,
    is_postgres,
    run,
    table_binders,
)
from stockledger.core.write_behind import WriteBehind

STAGE_PREFIX = "stage_"  # the staging table of `table`: a temporary table, dropped at commit


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """`rows` (driver values, in `columns` order) written into `table` in the session's
    transaction: COPY FROM STDIN on PostgreSQL, an executemany INSERT on SQLite; the rows
    copied. `table` ("name" or "schema.name") and `columns` are quoted as identifiers."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    conn = connection_of(session)
    if not is_postgres(session):
        quoted = ", ".join(_quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        into = ".".join(map(_quoted, table.split(".")))
        conn.exec_driver_sql(f"INSERT INTO {into} ({quoted}) VALUES ({marks})", [tuple(r) for r in rows])
        return len(rows)
    values = list(zip(*rows, strict=True))
    _copy(conn, table, columns, values, _copy_text(values))
    return len(rows)


def _copy(
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
    writes: WriteBehind | None = None,
) -> None:
    """`rows` (Python values in `columns` order, each key once) INSERTed, or their other
    columns but `insert_only` UPDATEd where the key exists (DO NOTHING when none is left), as
    core.dialects.upsert_rows does. SQLite: upsert_rows (one executemany).

    PostgreSQL: the rows (the columns' bind processors applied) COPYed into a temporary
    staging table of `table`'s columns (made once a transaction, ON COMMIT DROP), then one
    INSERT … SELECT … ON CONFLICT. With `writes`, that INSERT is sent in pipeline mode and its
    answer awaited by the next call (a COPY cannot share the pipeline) or at the settle: the
    server upserts while the caller makes the next rows."""
    if not rows:
        return
    if not is_postgres(session):
        named = [dict(zip(columns, row, strict=True)) for row in rows]
        upsert_rows(session, table, named, keys, None, insert_only)
        return
    values = _bound(session, table, columns, rows)
    text = _copy_text(values)  # made before waiting for the upsert sent last
    if writes is not None:
        writes.settle()
    stage = f"pg_temp.{STAGE_PREFIX}{table.name}"
    conn = connection_of(session)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS SELECT * FROM {table.name} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    _copy(conn, stage, columns, values, text)
    changes = [c for c in columns if c not in keys and c not in insert_only]
    action = f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in changes)}" if changes else "DO NOTHING"
    listed = ", ".join(columns)
    conflict = f"ON CONFLICT ({', '.join(keys)}) {action}"
    upsert = Statement(f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {stage} {conflict}", {})
    if writes is None:
        run(session, upsert)
    else:
        writes.send(upsert)


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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


__all__ = ["copy_rows", "upsert_copied"]
