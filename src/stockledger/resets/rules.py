"""Pure rules of an ERP reset line: what was given, is it a usable quantity, and the diff."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeGuard

from stockledger.core.errors import clipped
from stockledger.core.quantities import MAX_QUANTITY

ID_MAX = 60
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,60}$")  # the Id type of core.schemas (matched whole)
TEXT_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # a CSV quantity: a JSON number's grammar, no exponent
QOH = "quantityOnHand"
ATP = "availableToPromise"


class JsonText(str):
    """A quantity sent as a JSON string: refused (SPEC §10: quantities are JSON numbers)."""


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line as received (JSON values or CSV strings); `line` is its number in the input."""

    line: int
    facility_id: object
    product_id: object
    quantity_on_hand: object = None
    available_to_promise: object = None
    misshapen: str | None = None  # why the reader could not take the line as it stands (a CSV's fields)


@dataclass(frozen=True, slots=True)
class ResetLine:
    """A usable line: set the product's `kind` total (QOH or ATP) in the facility to `quantity`."""

    line: int
    facility_id: str
    product_id: str
    kind: str  # QOH or ATP
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class LineFailure:
    line: int
    code: str
    message: str
    facility_id: str | None = None
    product_id: str | None = None


def check_line(raw: RawLine) -> ResetLine | LineFailure:
    """The line made usable, or why it is not (its shape, ids, exactly one quantity, a sane number)."""
    if raw.misshapen is not None:
        return LineFailure(raw.line, "invalid_line", raw.misshapen, *_shown_ids(raw))
    ids = _ids(raw)
    if isinstance(ids, LineFailure):
        return ids
    facility_id, product_id = ids
    given = [
        (kind, v) for kind, v in ((QOH, raw.quantity_on_hand), (ATP, raw.available_to_promise)) if _given(v)
    ]
    if len(given) != 1:
        code, what = ("both_quantities", "both") if given else ("no_quantity", "neither")
        message = f"give exactly one of {QOH} or {ATP} ({what} given)"
        return LineFailure(raw.line, code, message, facility_id, product_id)
    kind, value = given[0]
    quantity = parse_quantity(value)
    if isinstance(quantity, str):
        code = "negative_quantity" if quantity.startswith("negative") else "invalid_quantity"
        return LineFailure(raw.line, code, f"{kind} {quantity}", facility_id, product_id)
    return ResetLine(raw.line, facility_id, product_id, kind, quantity)


def parse_quantity(value: object) -> Decimal | str:
    """A finite, non-negative quantity with at most 6 decimals, or the reason it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return "is not a number"
    if isinstance(value, JsonText):
        return f"is a string ({str(value)[:40]!r}), not a JSON number"
    if isinstance(value, str) and not TEXT_NUMBER.fullmatch(value.strip()):
        return f"is not a number: {str(value)[:40]!r}"  # +4, 1e3, .5, an Arabic-Indic digit
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return f"is not a number: {str(value)[:40]!r}"
    if not number.is_finite():
        return "is not a finite number"
    if number < 0:
        return f"negative ({number}): a reset sets a quantity that cannot be below zero"
    if number > MAX_QUANTITY:
        return f"is out of range (at most {MAX_QUANTITY})"
    if number != number.quantize(Decimal("0.000001")):
        return "has more than 6 decimals"
    return number + 0  # drops a negative zero's sign


def reset_diff(line: ResetLine, current_qoh: Decimal, current_atp: Decimal) -> Decimal:
    """given − current, for the kind given; the same diff then moves both QOH and ATP."""
    return line.quantity - (current_qoh if line.kind == QOH else current_atp)


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and value.strip() == "")


def _ids(raw: RawLine) -> tuple[str, str] | LineFailure:
    """The two ids exactly as given: an id is compared exactly, so one with whitespace at an
    end is refused, not trimmed into another (docs/api.md "Ids"). A refused line still names
    the facilityId and productId it gave, as given, where they can be shown (`_shown`), and
    its message quotes the one that is no id."""
    f, p = raw.facility_id, raw.product_id
    if is_id(f) and is_id(p):
        return f, p
    name, value = ("facilityId", f) if not is_id(f) else ("productId", p)
    return LineFailure(raw.line, "invalid_line", f"{name} {_id_problem(value)}", *_shown_ids(raw))


def is_id(value: object) -> TypeGuard[str]:
    """Whether `value` is an id as the Id type takes it (ID_PATTERN, matched whole)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def _id_problem(value: object) -> str:
    """Why `value` is no id, quoting it (escaped, clipped) so the reader sees what was sent."""
    if not isinstance(value, str) or value == "":
        return "is missing or not text"
    if value != value.strip() and ID_PATTERN.fullmatch(value.strip()):
        return f"{clipped(repr(value), 80)} has whitespace at its start or end: ids are compared exactly"
    if len(value) > ID_MAX:
        return f"{clipped(repr(value), 80)} is longer than {ID_MAX} characters: not a valid id"
    return f"{clipped(repr(value), 80)} is not a valid id (letters, digits, _ . : - only)"


def named_facilities(lines: list[RawLine]) -> set[str]:
    """The facilities the lines name: each facilityId given as an id, whitespace around it aside
    (a failed line shows what it gave; text that is no id names no facility)."""
    given = {line.facility_id for line in lines if isinstance(line.facility_id, str)}
    return {f.strip() for f in given if is_id(f.strip())}


def _shown_ids(raw: RawLine) -> tuple[str | None, str | None]:
    """The facilityId and productId of a refused line, as a failure shows them."""
    return _shown(raw.facility_id), _shown(raw.product_id)


def _shown(value: object) -> str | None:
    """An id as a failure may show it, exactly as given (an id or not): text a reader can see
    (no NUL, no line break, no lone surrogate) and that fits the column (60 characters), else
    None (the message then quotes it, escaped)."""
    if isinstance(value, str) and 0 < len(value) <= ID_MAX and value.isprintable():
        return value
    return None
