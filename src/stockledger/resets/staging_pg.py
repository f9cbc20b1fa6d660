"""Reset lines streamed into the temporary table STAGED_LINES (core.bulk.copy_rows: COPY).

SQL in PostgreSQL's dialect only (a temporary table dropped at commit, the "char" type): the
set-based reset (resets/set_based.py) is the one caller, and only where
core.dialects.stages_set_based says the database can (docs/architecture.md).

Each line becomes one row as received, judged by nobody yet: its position in the input
(`ord`, from 0), its line number, the two ids and the two quantities as text with their kind:
't' text (CSV), 's' a JSON string, 'n' a JSON number, 'x' anything else (true, a list…), NULL
not given. resets/set_based.py judges them in SQL.

PostgreSQL text cannot hold NUL (nor a lone surrogate, which a JSON string may): a line with
one in a field it uses fails whatever the rest holds (an id with one is no id, a quantity
with one no number), so it is judged here by the rules (resets/rules.py) and staged with its
failure (`pre_code`, `pre_message`); so is a CSV line the reader found misshapen (its fields
do not match the header, or a quoted field runs over lines).
"""

from collections.abc import Iterable, Iterator
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.bulk import copy_rows
from stockledger.core.errors import Forbidden
from stockledger.core.guards import is_utf8_text
from stockledger.resets.rules import JsonText, LineFailure, RawLine, check_line
from stockledger.resets.sources import CsvLines

STAGED_LINES = "reset_staged_line"
_CREATE = (
    f"CREATE TEMP TABLE {STAGED_LINES} (ord bigint, line integer, fac text, prod text, qoh text, atp text, "
    'qk "char", ak "char", pre_code text, pre_message text) ON COMMIT DROP'
)
_COLUMNS = ("ord", "line", "fac", "prod", "qoh", "atp", "qk", "ak", "pre_code", "pre_message")
NUL = "\x00"
Row = tuple[int, int, str | None, str | None, str | None, str | None, str | None, str | None, None, None]


def stage_lines(session: Session, lines: Iterable[RawLine], scope: frozenset[str] | None) -> int:
    """COPY the lines into STAGED_LINES (created anew); how many there were."""
    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {STAGED_LINES}"))
    connection.execute(text(_CREATE))
    return copy_rows(session, STAGED_LINES, _COLUMNS, _rows(lines, scope))


def _rows(lines: Iterable[RawLine], scope: frozenset[str] | None) -> Iterator[tuple[object, ...]]:
    """Each line as its staged row, in input order (`ord` from 0)."""
    if isinstance(lines, CsvLines):
        for ord_, (line, f, p, q, a, misshapen) in enumerate(lines.rows()):
            if misshapen is not None or NUL in f"{f}{p}{q}{a}":
                yield judged(ord_, RawLine(line, f, p, q, a, misshapen), scope)
                continue
            qk = None if q is None else "t"
            ak = None if a is None else "t"
            yield (ord_, line, f, p, q, a, qk, ak, None, None)
    else:
        for ord_, raw in enumerate(lines):
            yield _row(ord_, raw, scope)


def _row(ord_: int, raw: RawLine, scope: frozenset[str] | None) -> tuple[object, ...]:
    fac = raw.facility_id if isinstance(raw.facility_id, str) else None
    prod = raw.product_id if isinstance(raw.product_id, str) else None
    q, qk = staged_value(raw.quantity_on_hand)
    a, ak = staged_value(raw.available_to_promise)
    given = f"{fac}{prod}{q}{a}"
    if raw.misshapen is not None or NUL in given or not (given.isascii() or is_utf8_text(given)):
        return judged(ord_, raw, scope)
    return (ord_, raw.line, fac, prod, q, a, qk, ak, None, None)


def staged_value(value: object) -> tuple[str | None, str | None]:
    """A quantity as staged: its text and its kind (see above)."""
    if value is None:
        return None, None
    if isinstance(value, JsonText):
        return str(value), "s"
    if isinstance(value, str):
        return value, "t"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return "", "x"
    return str(value), "n"


def rebuilt(value: str | None, kind: str | None) -> object:
    """A staged quantity as the RawLine field it came from (for the rules to judge again)."""
    if kind is None:
        return None
    if kind == "s":
        return JsonText(value or "")
    if kind == "n":
        return Decimal(value or "0")
    if kind == "x":
        return []  # "is not a number", as a JSON list or true would be
    return value


def judged(ord_: int, raw: RawLine, scope: frozenset[str] | None) -> tuple[object, ...]:
    """A line holding a NUL, or misshapen, judged here (it fails); staged with its failure."""
    facility = raw.facility_id.strip() if isinstance(raw.facility_id, str) else ""
    if scope is not None and facility and facility not in scope:
        raise Forbidden(
            f"Line {raw.line}: this token may not act on facility {facility}",
            line=raw.line,
            facilityId=facility,
        )
    failure = check_line(raw)
    assert isinstance(failure, LineFailure), "a line with a NUL in a field it uses is no usable line"
    message = failure.message.replace(NUL, "\\x00")
    return (
        ord_,
        raw.line,
        failure.facility_id,
        failure.product_id,
        None,
        None,
        None,
        None,
        failure.code,
        message,
    )
