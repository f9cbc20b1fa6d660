"""Reservation and rejection rules without a database: FEFO, spreading, backorders, modes."""

from datetime import datetime
from decimal import Decimal

import pytest

from stockledger.core.errors import Conflict, ValidationFailed
from stockledger.core.problem_members import PROBLEM_MEMBERS
from stockledger.rejection.rules import rejected_quantity, require_mode, spread
from stockledger.reservations.lines import check_lines
from stockledger.reservations.planning import plan_lines
from stockledger.reservations.rules import (
    Candidate,
    add_backorder,
    allocate,
    fefo_key,
    promisable,
    require_fill,
)
from stockledger.reservations.service import ReserveLine

D = Decimal


def _c(item: str, atp: int, expire: str | None = None, received: str = "2024-01-01") -> Candidate:
    exp = datetime.fromisoformat(expire) if expire else None
    return Candidate(item, "P", None, D(atp), exp, datetime.fromisoformat(received))


def test_fefo_puts_earliest_expiry_first_no_expiry_last_then_oldest_receipt() -> None:
    items = [
        _c("A", 1),
        _c("B", 1, "2025-06-01"),
        _c("C", 1, "2025-01-01"),
        _c("D", 1, None, "2023-01-01"),
    ]
    assert [c.inventory_item_id for c in sorted(items, key=fefo_key)] == ["C", "B", "D", "A"]


def test_allocate_spreads_in_order_and_shares_remaining_atp_between_lines() -> None:
    items = [_c("A", 3), _c("B", 5)]
    remaining = {"A": D(3), "B": D(5)}
    first = allocate(items, remaining, D(4))
    assert [(t.inventory_item_id, t.quantity) for t in first.takes] == [("A", D(3)), ("B", D(1))]
    assert (first.available, first.short) == (D(8), D(0))
    second = allocate(items, remaining, D(6))
    assert [(t.inventory_item_id, t.quantity) for t in second.takes] == [("B", D(4))]
    assert (second.available, second.short) == (D(4), D(2))


def test_backorder_adds_the_short_part_as_not_available() -> None:
    plan = allocate([_c("A", 2)], {"A": D(2)}, D(5))
    add_backorder(plan, "A")
    assert [(t.inventory_item_id, t.quantity, t.not_available) for t in plan.takes] == [("A", D(5), D(3))]
    other = allocate([_c("A", 0)], {"A": D(0)}, D(2))
    add_backorder(other, "F")
    assert [(t.inventory_item_id, t.quantity, t.not_available) for t in other.takes] == [("F", D(2), D(2))]


def test_unknown_fill_and_mode_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        require_fill("SOME")
    with pytest.raises(ValidationFailed):
        require_mode("ATP_HALF")


def test_rejection_quantities_and_spread() -> None:
    assert rejected_quantity("RELEASE", None, D(5)) == 0
    assert rejected_quantity("ATP_ONE", D(4), D(5)) == 1
    assert rejected_quantity("ATP_ALL", None, D(5)) == 5
    assert rejected_quantity("ATP_QOH_ALL", D(2), D(5)) == 2
    with pytest.raises(Conflict):  # nothing reserved to take: the item's state, not the request
        rejected_quantity("ATP_ALL", None, D(0))
    takes = spread("ATP_QOH_ALL", D(6), [("A", D(2)), ("B", D(3))])
    assert [(t.inventory_item_id, t.quantity, t.qoh) for t in takes] == [("A", D(2), True), ("B", D(4), True)]
    assert spread("RELEASE", D(6), [("A", D(2))]) == []


def test_promisable_means_available_and_not_expired_unless_expired_lots_are_allowed() -> None:
    now = datetime(2026, 6, 1, 12, 0)
    assert promisable("INV_AVAILABLE", None, now)
    assert promisable("INV_AVAILABLE", datetime(2026, 6, 1, 12, 1), now)
    assert not promisable("INV_AVAILABLE", now, now)  # expires at this instant: gone
    assert not promisable("INV_AVAILABLE", datetime(2020, 1, 1), now)
    assert promisable("INV_AVAILABLE", datetime(2020, 1, 1), now, allow_expired=True)
    for status in ("INV_ON_HOLD", "INV_RETURNED", "INV_DEFECTIVE"):
        assert not promisable(status, None, now, allow_expired=True)


def test_the_net_caps_each_line_and_is_shared_by_the_orders_lines() -> None:
    now = datetime.fromisoformat("2026-01-01")
    owing = {"P": [_c("LOT", 5, "2026-06-01"), _c("FAC", -2), _c("OLD", 4, "2025-01-01")]}
    first, second = plan_lines(owing, [ReserveLine("1", "P", D(2)), ReserveLine("2", "P", D(2))], now)
    assert [(t.inventory_item_id, t.quantity) for t in first.takes] == [("LOT", D(2))]
    assert (second.available, second.short) == (D(1), D(1))  # net 3 (the expired lot not counted)
    [expired_too] = plan_lines(owing, [ReserveLine("1", "P", D(8), allow_expired=True)], now)
    assert (expired_too.available, expired_too.short) == (D(7), D(1))
    [none] = plan_lines({"P": [_c("A", 1), _c("B", -3)]}, [ReserveLine("1", "P", D(1))], now)
    assert (none.takes, none.available, none.short) == ([], D(-2), D(1))


def test_a_refused_line_quantity_is_a_number_in_the_problem_as_in_the_contract() -> None:
    assert PROBLEM_MEMBERS["quantity"]["type"] == "number"
    with pytest.raises(ValidationFailed) as refused:
        check_lines([ReserveLine("00001", "FG001", Decimal("-2.5"))])
    assert refused.value.extra == {"orderItemSeqId": "00001", "quantity": Decimal("-2.5")}
    with pytest.raises(ValidationFailed) as not_finite:
        check_lines([ReserveLine("00001", "FG001", Decimal("NaN"))])
    assert not_finite.value.extra == {"orderItemSeqId": "00001"}
