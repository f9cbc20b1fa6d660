"""Rules of a cycle count, without a database."""

from decimal import Decimal

from stockledger.counts.rules import (
    FOUND,
    LOST,
    ItemLevel,
    count_variances,
    product_count_variances,
    variance_reason,
)


def test_qoh_goes_to_counted_and_atp_to_counted_minus_reserved() -> None:
    qoh_var, atp_var = count_variances(Decimal(20), Decimal(22), Decimal(17), Decimal(5))
    assert (Decimal(22) + qoh_var, Decimal(17) + atp_var) == (Decimal(20), Decimal(15))


def test_the_reason_is_the_given_one_else_found_or_lost_by_sign() -> None:
    assert variance_reason(Decimal(2), Decimal(2), None) == FOUND
    assert variance_reason(Decimal(-2), Decimal(5), None) == LOST
    assert variance_reason(Decimal(0), Decimal(-1), None) == LOST  # QOH right, ATP was off
    assert variance_reason(Decimal(0), Decimal(0), None) is None
    assert variance_reason(Decimal(-1), Decimal(-1), "VAR_DAMAGED") == "VAR_DAMAGED"


def test_a_product_count_moves_qoh_into_one_item_and_sets_every_atp_to_qoh_less_reserved() -> None:
    levels = [
        ItemLevel("A", Decimal(20), Decimal(18), Decimal(2)),  # consistent
        ItemLevel("B", Decimal(10), Decimal(7), Decimal(0)),  # ATP lowered without a reservation
    ]
    assert product_count_variances(Decimal(25), levels, "A") == {
        "A": (Decimal(-5), Decimal(-5)),
        "B": (Decimal(0), Decimal(3)),
    }
    assert product_count_variances(Decimal(31), levels, "NEW") == {
        "A": (Decimal(0), Decimal(0)),
        "B": (Decimal(0), Decimal(3)),
        "NEW": (Decimal(1), Decimal(1)),
    }
