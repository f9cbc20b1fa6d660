"""receivePurchaseShipment: accepted units in stock (QOH and ATP +), rejected ones only recorded.

Every line is checked before anything is written (unknown facility, product or location: 404).
Accepted units go to the facility item (findOrCreate) unless the line names a lot or location
other than its own; then to the item of that product, lot and location (INV_AVAILABLE), created
when missing. Postings are written in item id order (the lock order of reservations), each
with a cost layer for FIFO/LIFO, then the product's backorders are filled oldest first.
A shipment line that was received before (in this facility) is refused, 409 `already_received`,
unless the receipt says `additional: true`; the check runs after the received items are locked,
so a concurrent receipt of the same line into the same item waits and then sees the first.
`additional` on a line never received is simply its first receipt. A line received before as
another product is refused, 409 `conflict`, even with `additional`: a shipment line has one product.
The shipment is a purchase shipment received in this facility only (`receiving/shipments.py`).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import promisable_facility_item, require_facility, require_product
from stockledger.core.actor import acting_user
from stockledger.core.errors import Conflict, NotFound, ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.ids import new_id
from stockledger.core.model_base import as_utc, utcnow
from stockledger.events.outbox import record_event
from stockledger.ledger.models import CostLayer, FacilityLocation, InventoryItem, ShipmentReceipt
from stockledger.ledger.post import Links, Posted, Posting, post
from stockledger.receiving.backorders import Filled, Receipt, fill_backorders, lock_items_for_receipt, total
from stockledger.receiving.schemas import ReceiptDoc, ReceiptLine
from stockledger.receiving.shipments import check_receivable
from stockledger.reservations.rules import INV_AVAILABLE

RECEIPT_REASON = "RECEIPT"


class AlreadyReceived(Conflict):
    code, title = "already_received", "Shipment line already received"


@dataclass(slots=True)
class Received:
    line: ReceiptLine
    receipt_id: str
    item: InventoryItem | None
    unit_cost: Decimal = ZERO
    cost_layer_id: str | None = None
    posted: Posted | None = None
    filled: list[Filled] = field(default_factory=list)


def receive_purchase_shipment(session: Session, doc: ReceiptDoc) -> list[Received]:
    """Stock the accepted quantities, record the rejected ones, fill backorders; one receipt per line."""
    _check(session, doc)
    now = utcnow()
    lines = [
        Received(line, new_id("RCPT"), _target_item(session, doc.facility_id, line, now))
        for line in doc.items
    ]
    stocked = [rec for rec in lines if rec.item is not None]
    locked = lock_items_for_receipt(
        session,
        doc.facility_id,
        {rec.line.product_id for rec in stocked},
        {rec.item.inventory_item_id for rec in stocked if rec.item is not None},
    )
    if not doc.additional:
        _refuse_received_again(session, doc)
    _refuse_other_product(session, doc)
    for rec in sorted(stocked, key=lambda x: x.item.inventory_item_id if x.item else ""):
        _stock(session, doc, rec, now)
    for rec in lines:
        _record_receipt(session, doc, rec, now)
    session.flush()
    for rec in sorted(lines, key=lambda x: x.line.product_id):
        if rec.item is not None:
            rec.filled = fill_backorders(session, _receipt(doc, rec), locked)
    for rec in lines:
        record_event(session, doc.facility_id, "InventoryChanged", _event(doc, rec))
    return lines


def _receipt(doc: ReceiptDoc, rec: Received) -> Receipt:
    assert rec.item is not None
    return Receipt(
        doc.facility_id,
        rec.line.product_id,
        rec.item.inventory_item_id,
        rec.line.quantity_accepted,
        rec.receipt_id,
        doc.shipment_id,
        rec.line.shipment_item_seq_id,
    )


def _check(session: Session, doc: ReceiptDoc) -> None:
    require_facility(session, doc.facility_id)
    check_receivable(session, doc.shipment_id, doc.facility_id)
    seen: set[str] = set()
    for line in doc.items:
        if line.shipment_item_seq_id in seen:
            raise ValidationFailed(
                f"shipmentItemSeqId {line.shipment_item_seq_id} appears twice in the receipt",
                shipmentItemSeqId=line.shipment_item_seq_id,
            )
        seen.add(line.shipment_item_seq_id)
        require_product(session, line.product_id)
        location = line.location_seq_id
        if location is not None and session.get(FacilityLocation, (doc.facility_id, location)) is None:
            raise NotFound(
                f"Location {location} not found in facility {doc.facility_id}",
                facilityId=doc.facility_id,
                locationSeqId=location,
            )


def _refuse_received_again(session: Session, doc: ReceiptDoc) -> None:
    """409 when a line of the document was received before, with what was received then."""
    r = ShipmentReceipt
    seqs = sorted({line.shipment_item_seq_id for line in doc.items})
    found = session.execute(
        select(r.shipment_item_seq_id, func.sum(r.quantity_accepted), func.sum(r.quantity_rejected))
        .where(r.facility_id == doc.facility_id, r.shipment_id == doc.shipment_id)
        .where(r.shipment_item_seq_id.in_(seqs))
        .group_by(r.shipment_item_seq_id)
        .order_by(r.shipment_item_seq_id)
    ).all()
    if found:
        seq, accepted, rejected = found[0]
        raise AlreadyReceived(
            f"Shipment {doc.shipment_id} line {seq} was received already ({accepted} accepted, "
            f"{rejected} rejected)",
            shipmentId=doc.shipment_id,
            shipmentItemSeqIds=[row[0] for row in found],
            quantityAccepted=accepted,
            quantityRejected=rejected,
            retryWith="additional",
        )


def _refuse_other_product(session: Session, doc: ReceiptDoc) -> None:
    """409 when a line was received before as another product: a shipment line has one product,
    `additional` or not."""
    r = ShipmentReceipt
    products = {line.shipment_item_seq_id: line.product_id for line in doc.items}
    found = session.execute(
        select(r.shipment_item_seq_id, r.product_id)
        .where(r.facility_id == doc.facility_id, r.shipment_id == doc.shipment_id)
        .where(r.shipment_item_seq_id.in_(sorted(products)))
        .distinct()
        .order_by(r.shipment_item_seq_id, r.product_id)
    ).all()
    for seq, product_id in found:
        if product_id != products[seq]:
            raise Conflict(
                f"Shipment {doc.shipment_id} line {seq} was received as product {product_id}, "
                f"not {products[seq]}: a shipment line has one product",
                shipmentId=doc.shipment_id,
                shipmentItemSeqId=seq,
                productId=product_id,
                requestedProductId=products[seq],
            )


def _target_item(
    session: Session, facility_id: str, line: ReceiptLine, now: datetime
) -> InventoryItem | None:
    """The promisable facility item, or the item of the line's own lot/location/expiry (found or created):
    an expiry date alone makes an item of its own too (it was dropped on the facility item)."""
    if line.quantity_accepted == 0:
        return None
    item = promisable_facility_item(session, facility_id, line.product_id)
    lot_differs = line.lot_id is not None and line.lot_id != item.lot_id
    location_differs = line.location_seq_id is not None and line.location_seq_id != item.location_seq_id
    expiry_differs = line.expire_date is not None and (
        item.expire_date is None or as_utc(line.expire_date) != as_utc(item.expire_date)
    )
    if not (lot_differs or location_differs or expiry_differs):
        return item
    lot = line.lot_id if line.lot_id is not None else item.lot_id
    location = line.location_seq_id if line.location_seq_id is not None else item.location_seq_id
    i = InventoryItem
    found = session.scalars(
        select(i)
        .where(i.facility_id == facility_id, i.product_id == line.product_id, i.status_id == INV_AVAILABLE)
        .where(i.lot_id.is_(None) if lot is None else i.lot_id == lot)
        .where(i.location_seq_id.is_(None) if location is None else i.location_seq_id == location)
        .where(true() if line.expire_date is None else i.expire_date == line.expire_date)
        .order_by(i.created_stamp, i.inventory_item_id)
        .limit(1)
    ).first()
    return found or _new_item(session, facility_id, line, lot, location, item)


def _new_item(
    session: Session,
    facility_id: str,
    line: ReceiptLine,
    lot: str | None,
    location: str | None,
    like: InventoryItem,
) -> InventoryItem:
    item = InventoryItem(
        facility_id=facility_id,
        inventory_item_id=new_id("II"),
        product_id=line.product_id,
        lot_id=lot,
        location_seq_id=location,
        expire_date=line.expire_date,
        unit_cost=line.unit_cost if line.unit_cost is not None else like.unit_cost,
        currency_uom_id=like.currency_uom_id,
        datetime_received=utcnow(),
    )
    session.add(item)
    session.flush()
    return item


def _stock(session: Session, doc: ReceiptDoc, rec: Received, now: datetime) -> None:
    assert rec.item is not None
    accepted = rec.line.quantity_accepted
    rec.posted = post(
        session,
        Posting(
            doc.facility_id,
            rec.item.inventory_item_id,
            RECEIPT_REASON,
            quantity_on_hand_diff=accepted,
            available_to_promise_diff=accepted,
            links=Links(
                shipment_id=doc.shipment_id,
                shipment_item_seq_id=rec.line.shipment_item_seq_id,
                receipt_id=rec.receipt_id,
            ),
        ),
    )
    rec.unit_cost = _unit_cost(rec.line, rec.item)
    rec.cost_layer_id = new_id("CL")
    session.add(
        CostLayer(
            facility_id=doc.facility_id,
            cost_layer_id=rec.cost_layer_id,
            product_id=rec.line.product_id,
            inventory_item_id=rec.item.inventory_item_id,
            receipt_id=rec.receipt_id,
            received_datetime=now,
            quantity_received=accepted,
            quantity_remaining=accepted,
            unit_cost=rec.unit_cost,
        )
    )


def _unit_cost(line: ReceiptLine, item: InventoryItem) -> Decimal:
    if line.unit_cost is not None:
        return line.unit_cost
    return item.unit_cost if item.unit_cost is not None else ZERO


def _record_receipt(session: Session, doc: ReceiptDoc, rec: Received, now: datetime) -> None:
    session.add(
        ShipmentReceipt(
            facility_id=doc.facility_id,
            receipt_id=rec.receipt_id,
            inventory_item_id=rec.item.inventory_item_id if rec.item else None,
            product_id=rec.line.product_id,
            shipment_id=doc.shipment_id,
            shipment_item_seq_id=rec.line.shipment_item_seq_id,
            quantity_accepted=rec.line.quantity_accepted,
            quantity_rejected=rec.line.quantity_rejected,
            rejection_reason_id=rec.line.rejection_reason_id,
            datetime_received=now,
            received_by_user_login_id=acting_user(session) or doc.received_by_user_login_id,
        )
    )


def _event(doc: ReceiptDoc, rec: Received) -> dict[str, object]:
    return {
        "facilityId": doc.facility_id,
        "productId": rec.line.product_id,
        "inventoryItemId": rec.item.inventory_item_id if rec.item else None,
        "shipmentId": doc.shipment_id,
        "shipmentItemSeqId": rec.line.shipment_item_seq_id,
        "receiptId": rec.receipt_id,
        "reasonEnumId": RECEIPT_REASON,
        "quantityAccepted": rec.line.quantity_accepted,
        "quantityRejected": rec.line.quantity_rejected,
        "quantityOnHandTotal": rec.posted.quantity_on_hand_total if rec.posted else None,
        "availableToPromiseTotal": rec.posted.available_to_promise_total if rec.posted else None,
        "backordersFilled": [
            {
                "orderId": f.order_id,
                "orderItemSeqId": f.order_item_seq_id,
                "quantity": f.quantity,
                "backorderedInventoryItemId": f.inventory_item_id,
                "movedToInventoryItemId": f.moved_to,
            }
            for f in rec.filled
        ],
        "quantityBackorderFilled": total(rec.filled),
        "inventoryItemIds": sorted(  # every item with a ledger row: promises moved off items too
            {f.inventory_item_id for f in rec.filled if f.moved_to}
            | ({rec.item.inventory_item_id} if rec.item else set())
        ),
    }
