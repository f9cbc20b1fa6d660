"""The database's clock in SQL, as UTC without an offset (the form UtcDateTime stores).

A read that decides what is promisable ("not expired") compares `expire_date` with this in
the same statement, so the hot reads need no parameter of their own. The two databases write
it differently; that difference lives here.
"""

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import DateTime

# The text of `utc_now()` per database, for SQL written by hand (a migration's view).
UTC_NOW_SQL = {
    "postgresql": "(statement_timestamp() AT TIME ZONE 'UTC')",
    # strftime keeps milliseconds; stored values are 'YYYY-MM-DD HH:MM:SS.ffffff', compared as text
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')",
}


class utc_now(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it stands for
    """Now, in UTC, naive, evaluated by the database."""

    type = DateTime()
    inherit_cache = True


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element: utc_now, compiler: Any, **kw: Any) -> str:
    return UTC_NOW_SQL["postgresql"]


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(element: utc_now, compiler: Any, **kw: Any) -> str:
    return UTC_NOW_SQL["sqlite"]
