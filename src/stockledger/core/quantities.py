"""Quantities as the service bounds and writes them, without pydantic or a web framework: the
ledger, the outbox and `stockledger reset` use them (core.schemas builds the DTO types on them).
"""

from decimal import Decimal

from stockledger.core.exact_marks import exact_mark

# The largest quantity a request may give (docs/api.md "Quantities"). Stored as BIGINT millionths
# (at most 9.2 * 10^12 units), so about 9,000 items at this bound still sum without overflow.
MAX_QUANTITY = Decimal(10) ** 9
# The most one inventory item's total may reach by an import's detail rows (BIGINT millionths
# hold 9.2 * 10^12 units; SQLite cannot add up totals past that either).
MAX_ITEM_TOTAL = Decimal(10) ** 12
FLOAT_EXACT = Decimal(10) ** 9  # below it a quantity of 6 decimals has at most 15 significant digits


def json_number(value: Decimal) -> int | float | str:
    """Quantities leave as JSON numbers: integers when whole, else the shortest float when it is
    the same number (always below 10^9 with 6 decimals: 15 significant digits at most), else a
    marked text that core.exact_json writes as the number's digits (999999999999.999999)."""
    if value == value.to_integral_value():
        return int(value)
    if -FLOAT_EXACT < value < FLOAT_EXACT:
        return float(value)
    number = float(value)
    return number if Decimal(repr(number)) == value else exact_mark(format(value, "f"))
