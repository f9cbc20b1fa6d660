"""Count ledger rows at commit: INSERTs into inventory_item_detail, dropped on rollback."""

from typing import Any

from sqlalchemy import Connection, Engine, event

from stockledger.metrics.registry import LEDGER_ROWS

_KEY = "stockledger_pending_ledger_rows"
_PREFIX = "INSERT INTO INVENTORY_ITEM_DETAIL"


def count_ledger_rows(engine: Engine) -> None:
    """Listen on `engine`; ledger/post.py stays free of metrics code."""
    if event.contains(engine, "after_cursor_execute", _after_execute):
        return
    event.listen(engine, "after_cursor_execute", _after_execute)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)


def _after_execute(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if statement.lstrip()[: len(_PREFIX)].upper() != _PREFIX:
        return
    rows = len(parameters) if executemany else max(cursor.rowcount, 1)
    conn.info[_KEY] = conn.info.get(_KEY, 0) + rows


def _on_commit(conn: Connection) -> None:
    rows = conn.info.pop(_KEY, 0)
    if rows:
        LEDGER_ROWS.inc(rows)


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_KEY, None)
