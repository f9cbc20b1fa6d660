"""Reset lines inserted into the temporary table STAGED_LINES (core.bulk.copy_rows: executemany
of plain tuples, one per line, as received).

The rows of resets/staging_pg.py (its docstring says what each column holds), in a table of
SQLite's: `ord` is the row id, from 1, in input order; a CSV's rows go in as the reader gives
them (line number, the two ids, the two quantities; a misshapen line judged by the rules), no
kind given (a quantity given with no kind is CSV text, 't'), so Python does little else per line.
A temporary table lives on the connection, past the transaction: created anew here, dropped by
resets/set_based_sqlite.py when the run is done. Reached only where core.dialects.stages_set_based and
serialises_writers say the database can (resets/set_based_sqlite.py).

SQLite's string functions stop at a NUL: a CSV line holding one is left to the rules
(resets/line_sql_sqlite.py finds it in the bytes). A JSON line with one, or with a lone
surrogate (no text SQLite can store), is judged here by the rules, as on PostgreSQL, and staged
with its failure.
"""

from collections.abc import Iterable, Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.bulk import copy_rows
from stockledger.core.guards import is_utf8_text
from stockledger.resets.rules import RawLine
from stockledger.resets.sources import CsvLines
from stockledger.resets.staging_pg import NUL, judged, staged_value

STAGED_LINES = "reset_staged_line"
_CREATE = (
    f"CREATE TEMP TABLE {STAGED_LINES} (ord INTEGER PRIMARY KEY, line INTEGER, fac TEXT, prod TEXT, "
    "qoh TEXT, atp TEXT, qk TEXT, ak TEXT, pre_code TEXT, pre_message TEXT)"
)
_COLUMNS = ("line", "fac", "prod", "qoh", "atp", "qk", "ak", "pre_code", "pre_message")


def stage_lines(session: Session, lines: Iterable[RawLine], scope: frozenset[str] | None) -> int:
    """Insert the lines into STAGED_LINES (created anew); how many there were."""
    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS temp.{STAGED_LINES}"))
    connection.execute(text(_CREATE))
    if isinstance(lines, CsvLines):
        return copy_rows(session, STAGED_LINES, _COLUMNS, _csv_rows(lines, scope))
    return copy_rows(session, STAGED_LINES, _COLUMNS, _rows(lines, scope))


def _csv_rows(lines: CsvLines, scope: frozenset[str] | None) -> Iterator[tuple[object, ...]]:
    """Each CSV line as the reader gives it; a misshapen one (its fields not the header's, a
    quote left open) judged here by the rules, and staged with its failure."""
    for ord_, row in enumerate(lines.rows()):
        if row[5] is None:
            yield (*row[:5], None, None, None, None)
        else:
            yield judged(ord_, RawLine(*row), scope)[1:]


def _rows(lines: Iterable[RawLine], scope: frozenset[str] | None) -> Iterator[tuple[object, ...]]:
    """Each JSON line (or line given as a RawLine) as its staged row, in input order."""
    for ord_, raw in enumerate(lines):
        fac = raw.facility_id if isinstance(raw.facility_id, str) else None
        prod = raw.product_id if isinstance(raw.product_id, str) else None
        q, qk = staged_value(raw.quantity_on_hand)
        a, ak = staged_value(raw.available_to_promise)
        given = f"{fac}{prod}{q}{a}"
        if raw.misshapen is not None or NUL in given or not (given.isascii() or is_utf8_text(given)):
            yield judged(ord_, raw, scope)[1:]
        else:
            yield (raw.line, fac, prod, q, a, qk, ak, None, None)
