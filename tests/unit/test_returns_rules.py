"""Return rules without a database: only what was shipped may come back, in a status by its condition."""

from decimal import Decimal

import pytest

from stockledger.returns.rules import (
    NotShipped,
    ReturnExceedsShipped,
    ShippedLine,
    atp_moved_off,
    check_returnable,
    inspected_quantity,
    received_status,
)

D = Decimal


def _refused(shipped: ShippedLine, quantity: Decimal) -> bool:
    try:
        check_returnable("O1", "1", "P1", shipped, quantity)
    except ReturnExceedsShipped:
        return True
    return False


def test_up_to_what_was_shipped_less_what_came_back_may_return() -> None:
    shipped = ShippedLine(D(4), D(1), D(5))  # 4 shipped, 1 back: 3 more may come back
    quantities = [D("0.000001"), D(1), D(3), D("3.000001"), D(4)]
    assert [_refused(shipped, q) for q in quantities] == [False, False, False, True, True]
    with pytest.raises(ReturnExceedsShipped) as refused:
        check_returnable("O1", "1", "P1", shipped, D("3.5"))
    assert (refused.value.status, refused.value.code) == (409, "return_exceeds_shipped")
    assert refused.value.extra["returnable"] == 3


@pytest.mark.parametrize("order_item", ["1", None])
def test_what_never_shipped_cannot_come_back(order_item: str | None) -> None:
    with pytest.raises(NotShipped) as refused:
        check_returnable("O1", order_item, "P1", ShippedLine(D(0), D(0), None), D(1))
    assert (refused.value.status, refused.value.code) == (409, "not_shipped")


@pytest.mark.parametrize(
    ("condition", "status"),
    [
        (None, "INV_RETURNED"),
        ("OPENED", "INV_RETURNED"),
        ("SEALED", "INV_RETURNED"),
        ("UNDAMAGED", "INV_RETURNED"),
        ("DAMAGED", "INV_DEFECTIVE"),
        ("damaged", "INV_DEFECTIVE"),
        ("Returned-Damaged", "INV_DEFECTIVE"),
        (" defective ", "INV_DEFECTIVE"),
    ],
)
def test_a_damaged_condition_means_defective_anything_else_pending_inspection(
    condition: str | None, status: str
) -> None:
    assert received_status(condition) == status


def test_the_atp_a_returned_item_held_for_moved_units_leaves_with_them() -> None:
    assert atp_moved_off(Decimal(1), Decimal(0), Decimal(1)) == 0  # pending inspection: no ATP
    assert atp_moved_off(Decimal(1), Decimal(1), Decimal(1)) == 1  # counted by item: ATP 1
    assert atp_moved_off(Decimal(3), Decimal(3), Decimal(1)) == 1  # 2 stay, with their ATP
    assert atp_moved_off(Decimal(3), Decimal(1), Decimal(1)) == 0  # ATP 1 still under QOH 2


def test_inspection_acts_on_what_the_returned_item_still_holds() -> None:
    assert inspected_quantity(D(3), D(3)) == 3  # untouched since it came back
    assert inspected_quantity(D(3), D(5)) == 3  # a count found more: the line's units only
    assert inspected_quantity(D(3), D(1)) == 1  # a count found fewer
    assert inspected_quantity(D(3), D(0)) == 0  # counted as lost: nothing moves
    assert inspected_quantity(D(3), D(-2)) == 0  # a negative variance: never below zero
