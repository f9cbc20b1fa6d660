"""Count ledger rows at commit: INSERTs into inventory_item_detail, dropped on rollback."""

from typing import Any

from sqlalchemy import Connection, event

from stockledger.core.db import Database
from stockledger.metrics.registry import LEDGER_ROWS

_KEY = "stockledger_pending_ledger_rows"
_PREFIX = "INSERT INTO INVENTORY_ITEM_DETAIL"
_IN_CTE = "INSERT INTO inventory_item_detail"


def count_ledger_rows(db: Database) -> None:
    """Listen on the database's engine and its single-statement changes (Database.run_alone);
    ledger/post.py stays free of metrics code."""
    engine = db.engine
    if event.contains(engine, "after_cursor_execute", _after_execute):
        return
    event.listen(engine, "after_cursor_execute", _after_execute)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)
    db.after_alone.append(_after_alone)


def _after_execute(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    head = statement.lstrip()[: len(_PREFIX)].upper()
    if head == _PREFIX:
        rows = len(parameters) if executemany else max(cursor.rowcount, 1)
    elif head.startswith("WITH "):
        rows = _in_single_statement(statement, cursor.rowcount)
    else:
        return
    conn.info[_KEY] = conn.info.get(_KEY, 0) + rows


def _in_single_statement(statement: str, returned: int) -> int:
    """A single-statement write (core.statements.run_together, the sole-item reservation): one detail
    row per detail INSERT when its first CTE (the posting) returned a row."""
    return statement.count(_IN_CTE) if returned > 0 and _IN_CTE in statement else 0


def _after_alone(statement: str, returned: int) -> None:
    """A statement that committed alone (Database.run_alone)."""
    rows = _in_single_statement(statement, returned) if statement.lstrip().startswith("WITH ") else 0
    if rows:
        LEDGER_ROWS.inc(rows)


def _on_commit(conn: Connection) -> None:
    rows = conn.info.pop(_KEY, 0)
    if rows:
        LEDGER_ROWS.inc(rows)


def _on_rollback(conn: Connection) -> None:
    if conn.invalidated:  # the connection died (its info is cleared on reconnect); touching
        return  # conn.info now would raise PendingRollbackError and turn a 503 into a 500
    conn.info.pop(_KEY, None)
