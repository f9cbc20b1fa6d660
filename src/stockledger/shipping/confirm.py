"""confirmShipment (item shipped): deplete what actually shipped, settle promises, price it (COGS).

The order: mark the shipment shipped (a guarded UPDATE, so a second /ship gets 409), lock the
order items' reservations, plan the issues (`issuing.Issuing`), post them in item-id order,
price them from the cost layers, write ItemIssuance rows, shrink the reservations, record
ShipmentConfirmed. Any refusal raises before commit, so nothing is left half done.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from stockledger.core.errors import InsufficientStock, ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.costing.service import issue_cost
from stockledger.events.outbox import record_event
from stockledger.ledger.models import (
    InventoryItem,
    ItemIssuance,
    OrderItemInventoryReservation,
    Shipment,
    ShipmentItem,
)
from stockledger.ledger.post import Posting, post
from stockledger.reservations.rules import RES_ACTIVE
from stockledger.shipping.issuing import Issuance, Issuing, Promised, ShipLine
from stockledger.shipping.rules import SHIPPED, Promise
from stockledger.shipping.service import update_open_shipment
from stockledger.shipping.unreserved import UnreservedStock, lock_stock

__all__ = ["Issuance", "ShipLine", "ShipmentShipped", "confirm_shipment"]


@dataclass(frozen=True, slots=True)
class ShipmentShipped:
    shipment_id: str
    facility_id: str
    status_id: str
    issuances: list[Issuance]
    total_cogs: Decimal


def confirm_shipment(
    session: Session,
    shipment_id: str,
    lines: Sequence[ShipLine] | None = None,
    release_remainder: bool = False,
    allow_unreserved: bool = False,
    event_extra: dict[str, object] | None = None,
    allow_expired: bool = False,
) -> ShipmentShipped:
    """Ship: QOH − shipped, reservations consumed (fulfilled at 0), issuances with COGS. Units
    beyond the reservations (`allow_unreserved`) come from promisable stock only, at most the
    product's net promisable ATP; from expired lots only with `allow_expired`."""
    shipment = update_open_shipment(session, shipment_id, "shipped", status_id=SHIPPED)
    items = _shipment_items(session, shipment)
    promises, stock = _load_promises(session, shipment, items, allow_expired)
    work = Issuing(session, shipment, allow_unreserved, promises, stock)
    for line in _lines_or_planned(lines, items):
        work.ship_line(items[line.shipment_item_seq_id], line)
    if release_remainder:
        work.release_remainder(items.values())
    _post_in_lock_order(session, work.postings)
    issuances = _price_and_record(session, shipment, work.issued)
    work.save_promises(release_remainder)
    total = sum((i.cogs for i in issuances), ZERO)
    touched = sorted({p.inventory_item_id for p in work.postings})  # promises moved or released too
    _record_shipped(
        session,
        shipment,
        issuances,
        total,
        work.released,
        {"inventoryItemIds": touched} | (event_extra or {}),
    )
    return ShipmentShipped(shipment_id, shipment.facility_id, SHIPPED, issuances, total)


def _shipment_items(session: Session, shipment: Shipment) -> dict[str, ShipmentItem]:
    s = ShipmentItem
    rows = session.scalars(
        select(s)
        .where(s.facility_id == shipment.facility_id, s.shipment_id == shipment.shipment_id)
        .order_by(s.shipment_item_seq_id)
    )
    return {row.shipment_item_seq_id: row for row in rows}


def _lines_or_planned(lines: Sequence[ShipLine] | None, items: dict[str, ShipmentItem]) -> list[ShipLine]:
    if lines is None:
        return [ShipLine(seq, item.quantity) for seq, item in items.items()]
    for line in lines:
        if line.shipment_item_seq_id not in items:
            raise ValidationFailed(
                f"shipmentItemSeqId {line.shipment_item_seq_id} is not an item of this shipment",
                shipmentItemSeqId=line.shipment_item_seq_id,
            )
    return list(lines)


def _load_promises(
    session: Session, shipment: Shipment, items: dict[str, ShipmentItem], allow_expired: bool
) -> tuple[Promised, UnreservedStock]:
    """Active reservations of the shipment's order items, oldest first, and the promisable stock
    as locked. Locks the stock items first (in item id order, as reserveStock does), then the
    reservation rows: the order reservations and releases lock them in, so a shipment queues
    behind them instead of deadlocking."""
    r = OrderItemInventoryReservation
    keys = sorted({(i.order_id, i.order_item_seq_id) for i in items.values()}, key=str)
    stmt = (
        select(r)
        .where(r.facility_id == shipment.facility_id, r.status_id == RES_ACTIVE)
        .where(tuple_(r.order_id, r.order_item_seq_id).in_(keys))
        .order_by(r.order_id, r.order_item_seq_id, r.inventory_item_id)
    )
    reserved = {row.inventory_item_id for row in session.scalars(stmt)}
    products = {i.product_id for i in items.values()}
    stock = lock_stock(session, shipment.facility_id, products, reserved, utcnow(), allow_expired)
    rows = session.scalars(stmt.with_for_update().execution_options(populate_existing=True)).all()
    found: Promised = {}
    for row in sorted(rows, key=lambda x: (x.reserved_datetime, x.inventory_item_id)):
        found.setdefault((row.order_id, row.order_item_seq_id), []).append(
            (Promise(row.inventory_item_id, row.quantity), row)
        )
    return found, stock


def _post_in_lock_order(session: Session, postings: list[Posting]) -> None:
    """Items locked in id order (no deadlocks between concurrent shipments); on one item the
    ATP returns come before the takes. Shipping more than an item holds is refused."""
    for posting in sorted(postings, key=lambda p: (p.inventory_item_id, p.available_to_promise_diff < 0)):
        posted = post(session, posting)
        if posting.quantity_on_hand_diff < 0 and posted.quantity_on_hand_total < 0:
            held = posted.quantity_on_hand_total - posting.quantity_on_hand_diff
            raise InsufficientStock(
                f"Inventory item {posting.inventory_item_id} has {held} on hand; "
                f"{-posting.quantity_on_hand_diff} shipped",
                inventoryItemId=posting.inventory_item_id,
                available=held,
                requested=-posting.quantity_on_hand_diff,
            )


def _price_and_record(
    session: Session, shipment: Shipment, issued: list[tuple[Issuance, InventoryItem]]
) -> list[Issuance]:
    """COGS from the cost layers (products in id order, for lock order), then the ItemIssuance rows."""
    priced: dict[str, Issuance] = {}
    for issuance, source in sorted(issued, key=lambda pair: pair[0].product_id):
        cost = issue_cost(
            session, shipment.facility_id, issuance.product_id, issuance.quantity, source.unit_cost
        ).cost
        priced[issuance.item_issuance_id] = replace(issuance, cogs=cost)
    result = [priced[i.item_issuance_id] for i, _ in issued]
    session.add_all(
        ItemIssuance(
            facility_id=shipment.facility_id,
            item_issuance_id=i.item_issuance_id,
            inventory_item_id=i.inventory_item_id,
            order_id=i.order_id,
            order_item_seq_id=i.order_item_seq_id,
            ship_group_seq_id=shipment.primary_ship_group_seq_id,
            shipment_id=shipment.shipment_id,
            shipment_item_seq_id=i.shipment_item_seq_id,
            quantity=i.quantity,
            cogs=i.cogs,
        )
        for i in result
    )
    session.flush()
    return result


def _record_shipped(
    session: Session,
    shipment: Shipment,
    issuances: list[Issuance],
    total: Decimal,
    released: list[dict[str, object]],
    extra: dict[str, object],
) -> None:
    record_event(
        session,
        shipment.facility_id,
        "ShipmentConfirmed",
        {
            "facilityId": shipment.facility_id,
            "shipmentId": shipment.shipment_id,
            "primaryOrderId": shipment.primary_order_id,
            "statusId": SHIPPED,
            "issuances": [_issuance_payload(i) for i in issuances],
            "totalCogs": total,
            "releasedReservations": released,
            **extra,
        },
    )


def _issuance_payload(i: Issuance) -> dict[str, object]:
    return {
        "itemIssuanceId": i.item_issuance_id,
        "orderId": i.order_id,
        "orderItemSeqId": i.order_item_seq_id,
        "shipmentItemSeqId": i.shipment_item_seq_id,
        "productId": i.product_id,
        "inventoryItemId": i.inventory_item_id,
        "lotId": i.lot_id,
        "quantity": i.quantity,
        "cogs": i.cogs,
    }
