"""Returns on both databases: units come back INV_RETURNED (QOH only), inspection decides."""

from decimal import Decimal
from typing import Any

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import Conflict, NotFound, OrderItemConflict
from stockledger.costing.service import add_layer
from stockledger.ledger.models import InventoryItem, ReturnHeader, ReturnItem
from stockledger.returns import inspection, service
from stockledger.returns.rules import NotShipped, ReturnExceedsShipped
from stockledger.returns.schemas import ReturnIn
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosSaleIn
from tests.shipping_support import details, events, layers, product_totals, snapshot, totals

D = Decimal


def _sell(db: Database, order_id: str, product_id: str, quantity: int) -> None:
    doc = {
        "orderId": order_id,
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": product_id, "quantity": quantity}],
    }
    with db.transaction() as session:
        record_pos_sale(session, PosSaleIn.model_validate(doc))


def _return(db: Database, return_id: str, order_id: str, *lines: dict[str, Any]) -> service.ReturnView:
    doc = {"returnId": return_id, "orderId": order_id, "facilityId": "FACILITY_1", "items": list(lines)}
    with db.transaction() as session:
        return service.process_return(session, ReturnIn.model_validate(doc))


def _line(
    seq: str = "1",
    product_id: str = "FG003",
    quantity: int = 1,
    order_item: str | None = "00001",
    condition: str = "OPENED",
) -> dict[str, Any]:
    return {
        "returnItemSeqId": seq,
        "orderItemSeqId": order_item,
        "productId": product_id,
        "returnQuantity": quantity,
        "returnReasonId": "RTN_DEFECTIVE_ITEM",
        "receivedCondition": condition,
    }


def _header_status(db: Database, return_id: str) -> str:
    with db.reading() as session:
        header = session.get(ReturnHeader, ("FACILITY_1", return_id))
        assert header is not None
        return header.status_id


def _inspect(db: Database, return_id: str, seq: str, outcome: str) -> service.ReturnView:
    with db.transaction() as session:
        return inspection.inspect_return_item(session, return_id, seq, outcome).view


@pytest.fixture
def sold(seeded: Database) -> Database:
    """FG003 in FACILITY_1: a cost layer of 10 at 5.00 on top of seed stock (35 + 27 at 8.75),
    then order R1 sells 4 of them: FIFO draws the layer, COGS 4 × 5.00 = 20.00."""
    with seeded.transaction() as session:
        add_layer(session, "FACILITY_1", "FG003", "FG003-INV-001", D(10), D(5))
    _sell(seeded, "R1", "FG003", 4)
    return seeded


def test_returned_units_raise_qoh_only_and_wait_in_their_own_item(sold: Database) -> None:
    before = product_totals(sold, "FG003")
    view = _return(sold, "RET1", "R1", _line(quantity=3))
    [item] = view.items
    assert (item.inventory_item_status_id, item.status_id, item.return_cost) == (
        "INV_RETURNED",
        "RETURN_RECEIVED",
        D(5),  # the original COGS per unit: 20.00 / 4
    )
    assert item.inventory_item_id is not None
    assert totals(sold, item.inventory_item_id) == (3, 0)
    assert product_totals(sold, "FG003") == (before[0] + 3, before[1])  # QOH + 3, ATP unchanged
    [row] = details(sold, item.inventory_item_id)
    assert (row.quantity_on_hand_diff, row.available_to_promise_diff, row.reason_enum_id) == (
        3,
        0,
        "RETURN_RECEIVED",
    )
    assert (row.return_id, row.return_item_seq_id, row.order_id, row.order_item_seq_id) == (
        "RET1",
        "1",
        "R1",
        "00001",
    )
    [event] = events(sold, "ReturnReceived")
    assert (event["returnId"], event["orderId"]) == ("RET1", "R1")
    assert event["items"][0]["returnQuantity"] == 3
    assert event["items"][0]["availableToPromiseDiff"] == 0
    assert event["items"][0]["returnCost"] == 5
    with sold.reading() as session:
        stored = session.get(InventoryItem, ("FACILITY_1", item.inventory_item_id))
        assert stored is not None
        assert (stored.status_id, stored.unit_cost, stored.product_id) == ("INV_RETURNED", D(5), "FG003")


def test_inspection_available_moves_units_to_sellable_stock_at_the_return_cost(sold: Database) -> None:
    returned_id = _return(sold, "RET1", "R1", _line(quantity=3)).items[0].inventory_item_id
    assert returned_id is not None
    facility_item_before = totals(sold, "FG003-INV-001")
    before = product_totals(sold, "FG003")
    view = _inspect(sold, "RET1", "1", "AVAILABLE")
    assert view.items[0].status_id == "RETURN_COMPLETED"
    # the return item names the item its units are in now: the sellable facility item
    assert (view.items[0].inventory_item_id, view.items[0].inventory_item_status_id) == (
        "FG003-INV-001",
        "INV_AVAILABLE",
    )
    assert (view.status_id, _header_status(sold, "RET1")) == ("RETURN_COMPLETED", "RETURN_COMPLETED")
    assert totals(sold, returned_id) == (0, 0)
    assert totals(sold, "FG003-INV-001") == (facility_item_before[0] + 3, facility_item_before[1] + 3)
    assert product_totals(sold, "FG003") == (before[0], before[1] + 3)  # ATP rises, QOH only moved
    out, into = details(sold, returned_id)[-1], details(sold, "FG003-INV-001")[-1]
    assert (out.quantity_on_hand_diff, out.available_to_promise_diff) == (-3, 0)
    assert (into.quantity_on_hand_diff, into.available_to_promise_diff) == (3, 3)
    for row in (out, into):
        assert (row.reason_enum_id, row.return_id, row.return_item_seq_id, row.order_id) == (
            "RETURN_RESTOCKED",
            "RET1",
            "1",
            "R1",
        )
    # the 10-unit layer lost 4 to the sale; the 3 returned units re-enter at their cost 5.00
    assert layers(sold, "FG003") == [(10, 6, 5), (3, 3, 5)]
    [event] = events(sold, "InventoryChanged")[-1:]
    assert (event["inspectionOutcome"], event["availableToPromiseDiff"]) == ("AVAILABLE", 3)
    assert event["inventoryItemIds"] == [returned_id, "FG003-INV-001"]


def test_inspection_defective_keeps_units_on_hand_and_never_available(sold: Database) -> None:
    returned_id = _return(sold, "RET1", "R1", _line(quantity=2)).items[0].inventory_item_id
    assert returned_id is not None
    before = (product_totals(sold, "FG003"), layers(sold, "FG003"), len(details(sold, returned_id)))
    view = _inspect(sold, "RET1", "1", "DEFECTIVE")
    assert view.items[0].inventory_item_status_id == "INV_DEFECTIVE"
    assert (view.items[0].status_id, view.status_id) == ("RETURN_COMPLETED", "RETURN_COMPLETED")
    assert totals(sold, returned_id) == (2, 0)
    assert (product_totals(sold, "FG003"), layers(sold, "FG003"), len(details(sold, returned_id))) == before


@pytest.mark.parametrize("first", ["AVAILABLE", "DEFECTIVE"])
def test_inspecting_twice_is_a_conflict_and_changes_nothing(sold: Database, first: str) -> None:
    _return(sold, "RET1", "R1", _line(quantity=2))
    _inspect(sold, "RET1", "1", first)
    before = snapshot(sold)
    with pytest.raises(Conflict, match="inspected already"):
        _inspect(sold, "RET1", "1", "AVAILABLE")
    assert snapshot(sold) == before


def test_more_than_was_shipped_cannot_come_back(sold: Database) -> None:
    _return(sold, "RET1", "R1", _line(quantity=3))
    before = snapshot(sold)
    with pytest.raises(ReturnExceedsShipped, match="cannot be returned") as refused:
        _return(sold, "RET2", "R1", _line(quantity=2))  # 4 shipped, 3 back already
    assert (refused.value.code, refused.value.status) == ("return_exceeds_shipped", 409)
    assert (refused.value.extra["quantityReturned"], refused.value.extra["returnable"]) == (3, 1)
    with pytest.raises(ReturnExceedsShipped, match="cannot be returned"):
        _return(sold, "RET3", "R1", _line("1", quantity=1), _line("2", quantity=1))  # 2 lines of one item
    with pytest.raises(ReturnExceedsShipped):  # without its order item: capped by the order's product
        _return(sold, "RET4", "R1", _line(quantity=2, order_item=None))
    assert snapshot(sold) == before
    _return(sold, "RET5", "R1", _line(quantity=1, order_item=None))  # the last unit may come back
    with pytest.raises(ReturnExceedsShipped):  # and then none, even named by its order item
        _return(sold, "RET6", "R1", _line(quantity=1))


def test_what_was_never_shipped_cannot_come_back(sold: Database) -> None:
    before = snapshot(sold)
    refusals = [
        ("EXTERNAL-7", _line(product_id="FG001", quantity=5)),  # an order this ledger never shipped
        ("R1", _line(order_item="00002")),  # an order item that never shipped
        ("R1", _line(product_id="FG001", order_item=None)),  # a product the order never shipped
    ]
    for order_id, line in refusals:
        with pytest.raises(NotShipped, match="never shipped") as refused:
            _return(sold, "RET9", order_id, line)
        assert (refused.value.code, refused.value.status) == ("not_shipped", 409)
    # The shipped order item named with another product: it belongs to FG003 (SPEC §11).
    with pytest.raises(OrderItemConflict) as conflict:
        _return(sold, "RET9", "R1", _line(product_id="FG001"))
    assert (conflict.value.code, conflict.value.status) == ("order_item_conflict", 409)
    assert snapshot(sold) == before


def test_a_damaged_return_is_defective_at_once_and_needs_no_inspection(sold: Database) -> None:
    before = product_totals(sold, "FG003")
    view = _return(sold, "RET1", "R1", _line(quantity=2, condition="Returned-Damaged"))
    [item] = view.items
    assert (item.inventory_item_status_id, item.status_id, view.status_id) == (
        "INV_DEFECTIVE",
        "RETURN_COMPLETED",
        "RETURN_COMPLETED",
    )
    assert item.inventory_item_id is not None
    assert totals(sold, item.inventory_item_id) == (2, 0)
    assert product_totals(sold, "FG003") == (before[0] + 2, before[1])
    [event] = events(sold, "ReturnReceived")
    assert event["items"][0]["statusId"] == "INV_DEFECTIVE"
    snap = snapshot(sold)
    with pytest.raises(Conflict, match="inspected already"):
        _inspect(sold, "RET1", "1", "AVAILABLE")
    assert snapshot(sold) == snap


@pytest.mark.parametrize(
    ("condition", "status"),
    [(None, "INV_RETURNED"), ("OPENED", "INV_RETURNED"), ("damaged", "INV_DEFECTIVE")],
)
def test_received_condition_sets_the_returned_status(
    sold: Database, condition: str | None, status: str
) -> None:
    line = {**_line(), "receivedCondition": condition}
    [item] = _return(sold, "RET1", "R1", line).items
    with sold.reading() as session:
        stored = session.get(InventoryItem, ("FACILITY_1", item.inventory_item_id))
        assert stored is not None
        assert stored.status_id == status


def test_the_return_completes_when_its_last_item_is_inspected(sold: Database) -> None:
    view = _return(sold, "RET1", "R1", _line("1", quantity=1), _line("2", quantity=1), _line("3", quantity=1))
    assert view.status_id == "RETURN_RECEIVED"
    assert _inspect(sold, "RET1", "1", "AVAILABLE").status_id == "RETURN_RECEIVED"
    view = _inspect(sold, "RET1", "2", "DEFECTIVE")
    assert (view.status_id, [i.status_id for i in view.items]) == (
        "RETURN_RECEIVED",
        ["RETURN_COMPLETED", "RETURN_COMPLETED", "RETURN_RECEIVED"],
    )
    assert [i.inventory_item_status_id for i in view.items] == [
        "INV_AVAILABLE",
        "INV_DEFECTIVE",
        "INV_RETURNED",
    ]
    view = _inspect(sold, "RET1", "3", "AVAILABLE")
    assert (view.status_id, _header_status(sold, "RET1")) == ("RETURN_COMPLETED", "RETURN_COMPLETED")
    with sold.reading() as session:
        assert service.get_return(session, "RET1") == view


@pytest.mark.parametrize(
    ("return_id", "facility_id", "product_id", "error"),
    [
        ("RET1", "FACILITY_1", "FG003", Conflict),  # the return exists already
        ("RET2", "NOWHERE", "FG003", NotFound),
        ("RET2", "FACILITY_1", "NOPE", NotFound),
    ],
)
def test_bad_returns_change_nothing(
    sold: Database, return_id: str, facility_id: str, product_id: str, error: type[Exception]
) -> None:
    _return(sold, "RET1", "R1", _line())
    before = snapshot(sold)
    doc = {
        "returnId": return_id,
        "orderId": "R1",
        "facilityId": facility_id,
        "items": [_line(product_id=product_id)],
    }
    with pytest.raises(error), sold.transaction() as session:
        service.process_return(session, ReturnIn.model_validate(doc))
    assert snapshot(sold) == before


def test_inspecting_an_unknown_return_item_is_not_found(sold: Database) -> None:
    _return(sold, "RET1", "R1", _line())
    before = snapshot(sold)
    for return_id, seq in (("NOPE", "1"), ("RET1", "9")):
        with pytest.raises(NotFound):
            _inspect(sold, return_id, seq, "AVAILABLE")
    assert snapshot(sold) == before
    with sold.reading() as session:
        line = session.get(ReturnItem, ("FACILITY_1", "RET1", "1"))
        assert line is not None
        assert line.status_id == "RETURN_RECEIVED"
