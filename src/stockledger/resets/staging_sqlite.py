"""Reset lines inserted into the temporary table STAGED_LINES (resets/line_sql_sqlite.py says
what each column holds): one executemany, the lines streamed to the driver as they come.

The rows of resets/staging_pg.py, in a table of SQLite's: `ord` is the row id, from 1, in
input order. A CSV's rows go in exactly as the reader gives them (line number, the two ids, the
two quantities, why the line is misshapen), no kind given (a quantity given with no kind is CSV
text, 't'): no Python runs per line, and the database judges a plain line as it stores it
(core.bulk.insert_computed of line_sql_sqlite.PLAIN_MICROS), leaving the others to CHECK. A
misshapen line (its fields not the header's, a quote left open) is then judged by the rules and
its row rewritten with its failure. A temporary table lives on the connection, past the
transaction: created anew here, dropped by resets/set_based_sqlite.py when the run is done.
Reached only where core.dialects.stages_set_based and serialises_writers say the database can
(resets/set_based_sqlite.py).

SQLite's string functions stop at a NUL: a CSV line holding one is left to the rules
(resets/line_sql_sqlite.py finds it in the bytes). A JSON line with one, or with a lone
surrogate (no text SQLite can store), is judged here by the rules, as on PostgreSQL, and staged
with its failure.
"""

from collections.abc import Iterable, Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.bulk import copy_rows, insert_computed
from stockledger.core.guards import is_utf8_text
from stockledger.resets.line_sql_sqlite import CREATE_STAGED, PLAIN_KIND, PLAIN_MICROS, STAGED_LINES
from stockledger.resets.rules import RawLine
from stockledger.resets.sources import CsvLines
from stockledger.resets.staging_pg import NUL, judged, staged_value

_COLUMNS = ("line", "f", "p", "qoh", "atp", "qk", "ak", "pre_code", "pre_message")
_CSV_COLUMNS = ("line", "f", "p", "qoh", "atp", "pre_message", "kind", "micros")
_CSV_VALUES = f"?1, ?2, ?3, ?4, ?5, ?6, {PLAIN_KIND}, {PLAIN_MICROS}"
_MISSHAPEN = (
    f"SELECT ord, line, f, p, qoh, atp, pre_message FROM {STAGED_LINES} WHERE pre_message IS NOT NULL"
)
_JUDGED = (
    f"UPDATE {STAGED_LINES} SET f = :f, p = :p, qoh = :qoh, atp = :atp, qk = :qk, ak = :ak, "
    "pre_code = :pre_code, pre_message = :pre_message, kind = NULL, micros = NULL WHERE ord = :ord"
)


def stage_lines(session: Session, lines: Iterable[RawLine], scope: frozenset[str] | None) -> int:
    """Insert the lines into STAGED_LINES (created anew); how many there were."""
    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS temp.{STAGED_LINES}"))
    connection.execute(text(CREATE_STAGED))
    if isinstance(lines, CsvLines):
        count = insert_computed(session, STAGED_LINES, _CSV_COLUMNS, _CSV_VALUES, lines.rows())
        _judge_misshapen(session, scope)
        return count
    return copy_rows(session, STAGED_LINES, _COLUMNS, _rows(lines, scope))


def _judge_misshapen(session: Session, scope: frozenset[str] | None) -> None:
    """Each misshapen CSV line (its reason staged as its pre_message) judged by the rules, in
    input order, and staged with its failure (a scoped caller naming another facility on one is
    refused: staging_pg.judged)."""
    connection = session.connection()
    found = connection.execute(text(_MISSHAPEN)).all()
    rewritten = []
    for ord_, line, f, p, q, a, misshapen in found:
        row = judged(ord_, RawLine(line, f, p, q, a, misshapen), scope)
        rewritten.append(dict(zip(("ord", *_COLUMNS), row, strict=True)))
    if rewritten:
        connection.execute(text(_JUDGED), rewritten)


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
