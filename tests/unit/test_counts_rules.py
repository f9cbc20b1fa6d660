"""Rules of a cycle count, without a database."""

from datetime import UTC, datetime
from decimal import Decimal

from stockledger.counts.rules import (
    FOUND,
    LOST,
    ItemLevel,
    count_variances,
    product_count_variances,
    shortage_order,
    variance_reason,
)

SOON, LATER = (datetime(y, 1, 1, tzinfo=UTC) for y in (2027, 2028))


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


def _lot(item_id: str, qoh: int, reserved: int = 0, expires: datetime | None = None) -> ItemLevel:
    return ItemLevel(item_id, Decimal(qoh), Decimal(qoh - reserved), Decimal(reserved), expires)


def _after(counted: int, levels: list[ItemLevel], into: str) -> dict[str, tuple[Decimal, Decimal]]:
    """(QOH, ATP) of every item after a product count."""
    variances = product_count_variances(Decimal(counted), levels, into)
    by_id = {level.inventory_item_id: level for level in levels}
    return {
        item_id: (by_id[item_id].quantity_on_hand + q, by_id[item_id].available_to_promise + a)
        for item_id, (q, a) in variances.items()
    }


# The tester's product C1: facility item 10, lot LC1 5 (3 reserved); its expired lot is not
# sellable, so not among the levels a count by product sets (counts/sellable.py).
C1 = [_lot("FAC", 10), _lot("LC1", 5, reserved=3, expires=SOON)]


def test_a_shortage_is_taken_from_the_facility_item_then_lots_fefo() -> None:
    levels = [_lot("LATE", 4, expires=LATER), *C1, _lot("PLAIN", 1)]
    order = [level.inventory_item_id for level in shortage_order(levels, "FAC")]
    assert order == ["FAC", "LC1", "LATE", "PLAIN"]
    assert _after(6, C1, "FAC") == {
        "FAC": (Decimal(1), Decimal(1)),
        "LC1": (Decimal(5), Decimal(2)),
    }


def test_no_item_goes_below_zero_and_reserved_units_go_last() -> None:
    after = _after(1, C1, "FAC")
    assert after == {
        "FAC": (Decimal(0), Decimal(0)),
        "LC1": (Decimal(1), Decimal(-2)),  # 3 reserved on 1 counted: the reservations keep their units
    }
    assert _after(0, C1, "FAC")["LC1"] == (Decimal(0), Decimal(-3))


def test_a_reserved_unit_is_kept_while_free_units_remain_elsewhere() -> None:
    levels = [_lot("FAC", 2, reserved=2), _lot("LOT", 3, expires=SOON)]
    assert _after(3, levels, "FAC") == {"FAC": (Decimal(2), Decimal(0)), "LOT": (Decimal(1), Decimal(1))}


def test_an_increase_goes_to_the_facility_item_and_a_negative_item_is_set_to_zero() -> None:
    assert _after(20, C1, "FAC")["FAC"] == (Decimal(15), Decimal(15))
    negative = [_lot("FAC", 5), _lot("NEG", -2, expires=SOON)]
    assert _after(4, negative, "FAC") == {"FAC": (Decimal(4), Decimal(4)), "NEG": (Decimal(0), Decimal(0))}
