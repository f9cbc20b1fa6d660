"""receivePurchaseShipment on both databases: totals, items, receipts, cost layers, events."""

from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import NotFound, ValidationFailed
from stockledger.ledger.models import InventoryItem
from stockledger.receiving.schemas import ReceiptDoc, ReceiptLine
from stockledger.receiving.service import AlreadyReceived, receive_purchase_shipment
from tests.shipping_support import FACILITY, details, events, layers, snapshot, totals
from tests.stock_support import receipts, receive

D = Decimal


def test_accepted_goes_to_the_facility_item_rejected_is_only_recorded(seeded: Database) -> None:
    [item] = receive(
        seeded,
        "PO-A",
        {
            "shipmentItemSeqId": "1",
            "productId": "FG001",
            "quantityAccepted": 5,
            "quantityRejected": 2,
            "rejectionReasonId": "SRJ_DAMAGED",
        },
    )
    assert item == "FG001-INV-001"  # the facility item: first loaded
    assert totals(seeded, item) == (D(18), D(18))
    [receipt] = receipts(seeded, "PO-A")
    assert (receipt.quantity_accepted, receipt.quantity_rejected, receipt.rejection_reason_id) == (
        D(5),
        D(2),
        "SRJ_DAMAGED",
    )
    last = details(seeded, item)[-1]
    assert (last.quantity_on_hand_diff, last.available_to_promise_diff) == (D(5), D(5))
    assert (last.shipment_id, last.shipment_item_seq_id, last.receipt_id) == ("PO-A", "1", receipt.receipt_id)
    assert layers(seeded, "FG001")[-1] == (D(5), D(5), D("10.5"))  # the item's unit cost
    [event] = events(seeded, "InventoryChanged")
    assert (event["receiptId"], event["quantityAccepted"], event["quantityRejected"]) == (
        receipt.receipt_id,
        5,
        2,
    )


def test_a_new_lot_or_location_gets_its_own_item_and_is_found_again(seeded: Database) -> None:
    line = {
        "shipmentItemSeqId": "1",
        "productId": "FG002",
        "quantityAccepted": 3,
        "lotId": "LOT9",
        "expireDate": "2097-03-01T00:00:00",
        "locationSeqId": "0008",
        "unitCost": 11,
    }
    [first] = receive(seeded, "PO-B", line)
    [again] = receive(seeded, "PO-C", line)
    assert first == again
    assert first not in ("FG002-INV-001", "FG002-INV-002")
    assert totals(seeded, first) == (D(6), D(6))
    assert totals(seeded, "FG002-INV-001") == (D(22), D(22))
    assert [layer[2] for layer in layers(seeded, "FG002")[-2:]] == [D(11), D(11)]


def test_an_expiry_date_without_a_lot_gets_an_item_of_its_own(seeded: Database) -> None:
    """Found by an outside tester: the date was dropped and the units went to the facility item."""
    line = {
        "shipmentItemSeqId": "1",
        "productId": "FG003",
        "quantityAccepted": 1,
        "expireDate": "2097-05-01T00:00:00Z",
    }
    [dated] = receive(seeded, "PO-EXP-1", line)
    [again] = receive(seeded, "PO-EXP-2", line)
    [later] = receive(seeded, "PO-EXP-3", line | {"expireDate": "2098-05-01T00:00:00Z"})
    [plain] = receive(seeded, "PO-EXP-4", line | {"expireDate": None})
    assert dated == again
    assert len({dated, later, plain}) == 3
    assert plain == "FG003-INV-001"  # no date: the facility item, as before
    with seeded.reading() as session:
        expiry = {i: session.get(InventoryItem, (FACILITY, i)).expire_date for i in (dated, later)}  # type: ignore[union-attr]
    assert {i: e.year for i, e in expiry.items()} == {dated: 2097, later: 2098}
    assert totals(seeded, dated) == (D(2), D(2))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"productId": "NO_SUCH"}, NotFound),
        ({"locationSeqId": "9999"}, NotFound),
    ],
)
def test_unknown_references_write_nothing(
    seeded: Database, change: dict[str, str], error: type[Exception]
) -> None:
    before = snapshot(seeded)
    good = {"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": 1}
    bad = {"shipmentItemSeqId": "2", "productId": "FG001", "quantityAccepted": 1} | change
    with pytest.raises(error), seeded.transaction() as session:
        receive_purchase_shipment(
            session,
            ReceiptDoc(
                shipment_id="PO-X",
                facility_id=FACILITY,
                items=[ReceiptLine.model_validate(good), ReceiptLine.model_validate(bad)],
            ),
        )
    assert snapshot(seeded) == before
    assert receipts(seeded, "PO-X") == []


def test_an_unknown_facility_and_a_repeated_line_are_refused(seeded: Database) -> None:
    line = ReceiptLine.model_validate({"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": 1})
    with pytest.raises(NotFound), seeded.transaction() as session:
        receive_purchase_shipment(session, ReceiptDoc(shipment_id="P", facility_id="NOPE", items=[line]))
    with pytest.raises(ValidationFailed), seeded.transaction() as session:
        receive_purchase_shipment(
            session, ReceiptDoc(shipment_id="P", facility_id=FACILITY, items=[line, line])
        )
    assert receipts(seeded, "P") == []


def test_a_line_received_before_needs_additional(seeded: Database) -> None:
    first = {
        "shipmentItemSeqId": "1",
        "productId": "FG001",
        "quantityAccepted": 5,
        "quantityRejected": 1,
        "rejectionReasonId": "SRJ_DAMAGED",
    }
    receive(seeded, "PO-R", first)
    before = snapshot(seeded)
    other = {"shipmentItemSeqId": "2", "productId": "FG002", "quantityAccepted": 1}
    for lines in ([first], [other, first], [{**first, "quantityAccepted": 0}]):
        with pytest.raises(AlreadyReceived, match="received already") as refused:
            receive(seeded, "PO-R", *lines)
        assert (refused.value.status, refused.value.code) == (409, "already_received")
        assert refused.value.extra == {
            "shipmentId": "PO-R",
            "shipmentItemSeqIds": ["1"],
            "quantityAccepted": 5,
            "quantityRejected": 1,
            "retryWith": "additional",
        }
    assert snapshot(seeded) == before  # not even the new line 2 of the refused document
    receive(seeded, "PO-R", other)  # another line of the shipment needs nothing
    doc = ReceiptDoc.model_validate(
        {"shipmentId": "PO-R", "facilityId": FACILITY, "additional": True, "items": [first]}
    )
    qoh, atp = totals(seeded, "FG001-INV-001")
    with seeded.transaction() as session:
        receive_purchase_shipment(session, doc)
    assert totals(seeded, "FG001-INV-001") == (qoh + 5, atp + 5)
    assert [r.quantity_accepted for r in receipts(seeded, "PO-R") if r.shipment_item_seq_id == "1"] == [5, 5]
    receive(seeded, "PO-R2", first)  # the same line number of another shipment is another line
