"""Shipment rules without a database: settling promises, spreading quantities, final statuses."""

from decimal import Decimal

import pytest

from stockledger.core.errors import Conflict
from stockledger.shipping.rules import Promise, merge_parts, require_open, settle, spread

D = Decimal


def test_shipping_from_the_promised_item_consumes_its_promise_and_leaves_atp_alone() -> None:
    promises = [Promise("A", D(5))]
    st = settle("A", D(3), promises)
    assert (st.from_shipped_item, st.moved, st.unreserved, st.shipped_item_atp_diff) == (3, (), 0, 0)
    assert (promises[0].quantity, promises[0].consumed) == (2, 3)


def test_shipping_another_lot_moves_the_promise_onto_it() -> None:
    promises = [Promise("A", D(3))]
    st = settle("B", D(3), promises)
    # ATP + 3 back on A (moved), ATP − 3 on B: the product's ATP is unchanged
    assert (st.from_shipped_item, st.moved, st.unreserved) == (0, (("A", D(3)),), 0)
    assert st.shipped_item_atp_diff == -3
    assert promises[0].quantity == 0


def test_the_shipped_items_own_promise_is_consumed_before_others() -> None:
    promises = [Promise("A", D(2)), Promise("B", D(2))]
    st = settle("B", D(3), promises)
    assert (st.from_shipped_item, st.moved) == (2, (("A", D(1)),))
    assert [(p.inventory_item_id, p.quantity) for p in promises] == [("A", 1), ("B", 0)]


def test_beyond_every_promise_is_unreserved_and_takes_atp() -> None:
    st = settle("A", D(5), [Promise("A", D(2))])
    assert (st.from_shipped_item, st.unreserved, st.shipped_item_atp_diff) == (2, 3, -3)
    assert settle("A", D(1), []).unreserved == 1


def test_moved_and_unreserved_together() -> None:
    st = settle("B", D(4), [Promise("A", D(1))])
    assert (st.moved_total, st.unreserved, st.shipped_item_atp_diff) == (1, 3, -4)


def test_spread_takes_in_order_up_to_what_each_holds() -> None:
    assert spread(D(7), [("A", D(3)), ("B", D(0)), ("C", D(10))]) == ([("A", D(3)), ("C", D(4))], 0)
    assert spread(D(7), [("A", D(2))]) == ([("A", D(2))], 5)
    assert spread(D("0.5"), []) == ([], D("0.5"))


@pytest.mark.parametrize("status", ["SHIPMENT_SHIPPED", "SHIPMENT_CANCELLED"])
def test_final_statuses_refuse_changes(status: str) -> None:
    with pytest.raises(Conflict, match=status):
        require_open("SH1", status, "reset")
    require_open("SH1", "SHIPMENT_PACKED", "reset")


def test_merge_parts_adds_up_one_item() -> None:
    assert merge_parts([("A", D(1)), ("B", D(2)), ("A", D(3))]) == [("A", D(4)), ("B", D(2))]
