"""Increase ATP and QOH (seed 000) on both databases: + n to both, with the causing links."""

from decimal import Decimal
from typing import Any

import pytest

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.core.errors import Conflict, NotFound
from stockledger.returns.increase import increase_inventory
from stockledger.returns.schemas import InventoryIncreaseIn, ReturnIn
from stockledger.returns.service import process_return
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosSaleIn
from tests.shipping_support import details, events, snapshot, totals

D = Decimal


def _increase(db: Database, **fields: Any) -> Any:
    doc = {"facilityId": "FACILITY_1", "quantity": 2, **fields}
    with db.transaction() as session:
        return increase_inventory(session, InventoryIncreaseIn.model_validate(doc))


def test_an_increase_by_product_lands_on_the_facility_item_with_its_links(seeded: Database) -> None:
    item, posted = _increase(
        seeded,
        productId="FG002",
        quantity=D("1.5"),
        orderId="O7",
        orderItemSeqId="00002",
        shipmentId="SH7",
        shipmentItemSeqId="00001",
        inventoryResetId="RESET7",
    )
    assert item.inventory_item_id == "FG002-INV-001"  # the ProductFacility item
    assert totals(seeded, "FG002-INV-001") == (D("23.5"), D("23.5"))
    assert (posted.quantity_on_hand_total, posted.available_to_promise_total) == (D("23.5"), D("23.5"))
    row = details(seeded, "FG002-INV-001")[-1]
    assert row.inventory_item_detail_seq_id == posted.inventory_item_detail_seq_id
    assert (row.quantity_on_hand_diff, row.available_to_promise_diff, row.reason_enum_id) == (
        D("1.5"),
        D("1.5"),
        "INV_INCREASE",
    )
    assert (row.order_id, row.order_item_seq_id, row.shipment_id, row.shipment_item_seq_id) == (
        "O7",
        "00002",
        "SH7",
        "00001",
    )
    assert row.inventory_reset_id == "RESET7"
    [event] = events(seeded, "InventoryChanged")
    assert (event["inventoryItemId"], event["quantityOnHandDiff"], event["availableToPromiseTotal"]) == (
        "FG002-INV-001",
        1.5,
        23.5,
    )


def test_an_increase_by_item_and_reason(seeded: Database) -> None:
    _increase(seeded, inventoryItemId="FG001-INV-002", productId="FG001", reasonEnumId="VAR_FOUND")
    assert totals(seeded, "FG001-INV-002") == (20, 20)
    assert details(seeded, "FG001-INV-002")[-1].reason_enum_id == "VAR_FOUND"


def test_a_product_new_to_the_facility_gets_its_facility_item(seeded: Database) -> None:
    with seeded.transaction() as session:
        import_document(session, {"facilityId": "FACILITY_2", "facilityName": "Outlet"})
    item, _posted = _increase(seeded, facilityId="FACILITY_2", productId="FG003", quantity=4)
    assert totals(seeded, item.inventory_item_id, "FACILITY_2") == (4, 4)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"inventoryItemId": "NOPE"}, NotFound),
        ({"facilityId": "NOWHERE", "productId": "FG001"}, NotFound),
        ({"productId": "NOPE"}, NotFound),
        ({"inventoryItemId": "FG001-INV-001", "productId": "FG002"}, Conflict),
    ],
)
def test_bad_increases_change_nothing(
    seeded: Database, fields: dict[str, Any], error: type[Exception]
) -> None:
    before = snapshot(seeded)
    with pytest.raises(error):
        _increase(seeded, **fields)
    assert snapshot(seeded) == before


def test_returned_stock_cannot_gain_atp_by_an_increase(seeded: Database) -> None:
    doc = {
        "returnId": "RET1",
        "orderId": "O1",
        "facilityId": "FACILITY_1",
        "items": [{"returnItemSeqId": "1", "productId": "FG001", "returnQuantity": 1}],
    }
    line = {"orderItemSeqId": "1", "productId": "FG001", "quantity": 1}
    sale = {"orderId": "O1", "facilityId": "FACILITY_1", "items": [line]}  # only what shipped comes back
    with seeded.transaction() as session:
        record_pos_sale(session, PosSaleIn.model_validate(sale))
    with seeded.transaction() as session:
        returned_id = process_return(session, ReturnIn.model_validate(doc)).items[0].inventory_item_id
    before = snapshot(seeded)
    with pytest.raises(Conflict, match="INV_RETURNED"):
        _increase(seeded, inventoryItemId=returned_id)
    assert snapshot(seeded) == before
