from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockledger.core.fixed import from_micros, to_micros
from stockledger.core.quantities import json_number

six_decimals = st.decimals(
    min_value=Decimal(-(10**12)), max_value=Decimal(10**12), places=6, allow_nan=False, allow_infinity=False
)


@given(six_decimals)
def test_micros_round_trip_is_exact(value: Decimal) -> None:
    assert from_micros(to_micros(value)) == value


@given(st.lists(six_decimals, max_size=50))
def test_sum_of_micros_is_the_micros_of_the_sum(values: list[Decimal]) -> None:
    assert sum(to_micros(v) for v in values) == to_micros(sum(values, Decimal(0)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("12"), 12), (Decimal("10.50"), 10.5), (Decimal("-2"), -2), (Decimal("0.000001"), 0.000001)],
)
def test_quantities_leave_as_json_numbers(value: Decimal, expected: float) -> None:
    out = json_number(value)
    assert out == expected
    assert type(out) is type(expected)


def test_whole_numbers_print_without_exponent() -> None:
    assert str(from_micros(10_000_000_000)) == "10000"
