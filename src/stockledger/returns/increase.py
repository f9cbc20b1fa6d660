"""Increase ATP and QOH (seed 000, SPEC §4): a correction or a return put straight back on sale."""

from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import promisable_facility_item, require_facility
from stockledger.core.errors import Conflict, NotFound
from stockledger.events.outbox import record_event
from stockledger.ledger.models import InventoryItem
from stockledger.ledger.post import Links, Posted, Posting, post
from stockledger.returns.schemas import InventoryIncreaseIn
from stockledger.shipping.service import check_shipment_of

INCREASE_REASON = "INV_INCREASE"
AVAILABLE = "INV_AVAILABLE"


def increase_inventory(session: Session, change: InventoryIncreaseIn) -> tuple[InventoryItem, Posted]:
    """QOH + n and ATP + n on the named item (or the promisable facility item of the product), linked
    to the order item, shipment item and reset that caused it."""
    require_facility(session, change.facility_id)
    check_shipment_of(session, change.shipment_id, change.facility_id)
    item = _target_item(session, change)
    links = Links(
        order_id=change.order_id,
        order_item_seq_id=change.order_item_seq_id,
        shipment_id=change.shipment_id,
        shipment_item_seq_id=change.shipment_item_seq_id,
        inventory_reset_id=change.inventory_reset_id,
        description=change.description,
    )
    posted = post(
        session,
        Posting(
            change.facility_id,
            item.inventory_item_id,
            change.reason_enum_id or INCREASE_REASON,
            quantity_on_hand_diff=change.quantity,
            available_to_promise_diff=change.quantity,
            links=links,
        ),
    )
    record_event(
        session,
        change.facility_id,
        "InventoryChanged",
        {
            "facilityId": change.facility_id,
            "productId": item.product_id,
            "inventoryItemId": item.inventory_item_id,
            "quantityOnHandDiff": change.quantity,
            "availableToPromiseDiff": change.quantity,
            "quantityOnHandTotal": posted.quantity_on_hand_total,
            "availableToPromiseTotal": posted.available_to_promise_total,
            "reasonEnumId": change.reason_enum_id or INCREASE_REASON,
            "orderId": change.order_id,
            "orderItemSeqId": change.order_item_seq_id,
            "shipmentId": change.shipment_id,
            "shipmentItemSeqId": change.shipment_item_seq_id,
            "inventoryResetId": change.inventory_reset_id,
        },
    )
    return item, posted


def _target_item(session: Session, change: InventoryIncreaseIn) -> InventoryItem:
    if change.inventory_item_id is None:
        assert change.product_id is not None  # the schema requires one of the two
        return promisable_facility_item(session, change.facility_id, change.product_id)
    item = session.get(InventoryItem, (change.facility_id, change.inventory_item_id))
    if item is None:
        raise NotFound(
            f"Inventory item {change.inventory_item_id} not found in facility {change.facility_id}",
            inventoryItemId=change.inventory_item_id,
        )
    if change.product_id is not None and change.product_id != item.product_id:
        raise Conflict(  # as an import naming an item with another product
            f"Inventory item {item.inventory_item_id} holds {item.product_id}, not {change.product_id}",
            inventoryItemId=item.inventory_item_id,
        )
    if item.status_id != AVAILABLE:  # ATP on returned or defective stock would let it be promised
        raise Conflict(
            f"Inventory item {item.inventory_item_id} is {item.status_id}; only sellable stock gains ATP",
            inventoryItemId=item.inventory_item_id,
            statusId=item.status_id,
        )
    return item
