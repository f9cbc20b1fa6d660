"""Fixed-point quantities: six decimals, stored as scaled integers on every database.

SQLite has no decimal type and sums floats; storing micro-units as BIGINT keeps
`totals == sum(diffs)` exact on SQLite and PostgreSQL alike, and the database can
do the arithmetic (guarded updates) without rounding.
"""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

SCALE = Decimal(1_000_000)
ZERO = Decimal(0)
QUANTUM = Decimal("0.000001")


def to_micros(value: Decimal | int | float | str) -> int:
    """The number of millionths in `value` (rounded half-even past six decimals)."""
    if type(value) is Decimal:  # the usual case: a validated quantity, six decimals at most
        scaled = value * SCALE
        whole = int(scaled)
        if whole == scaled:
            return whole
    return int((Decimal(value) * SCALE).to_integral_value(ROUND_HALF_EVEN))


def from_micros(value: int) -> Decimal:
    return (Decimal(value) / SCALE).normalize() + ZERO  # `+ ZERO` turns 1E+1 into 10


class Fixed6(TypeDecorator[Decimal]):
    """A Decimal column with six fixed decimals, held as a BIGINT count of millionths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_micros(int(value))
