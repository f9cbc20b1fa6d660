"""A receipt fills the product's backorders in the facility, oldest reservation first.

A backordered unit already lowered ATP when it was promised (ATP went below zero), so
filling it changes no product totals. When the received stock lands on the item that holds
the backorder, only the reservation's quantityNotAvailable shrinks. When it lands on another
item (a new lot, another location), the filled units' promise moves there, as OFBiz's
re-reservation does: ATP + n on the backordered item, ATP − n on the received item (two
RESERVATION_MOVED detail rows linking the order item and the receipt), and n units of the
reservation move to the order item's row on the received item; so per-item ATP and the
pick list point at the stock that is physically there.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.ledger.post import Links, Posting, post
from stockledger.reservations.rules import RES_ACTIVE, RES_CANCELLED, promisable

MOVED_REASON = "RESERVATION_MOVED"


@dataclass(frozen=True, slots=True)
class Filled:
    order_id: str
    order_item_seq_id: str
    inventory_item_id: str  # the item the backorder was on
    quantity: Decimal
    moved_to: str | None = None  # the received item, when the promise moved there


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where the filling stock went and what brought it (the links of the move's detail rows)."""

    facility_id: str
    product_id: str
    inventory_item_id: str
    quantity: Decimal
    receipt_id: str
    shipment_id: str | None = None
    shipment_item_seq_id: str | None = None


def lock_items_for_receipt(
    session: Session, facility_id: str, product_ids: set[str], received_items: set[str]
) -> set[str]:
    """Lock the received items and the items holding the products' backorders, in item id order;
    returns the locked item ids.

    Reserving and releasing lock items before reservation rows, in item id order; a receipt
    that moves promises does the same up front, so it cannot deadlock with them. A backorder
    placed on another item after this read is left to the next receipt (fill_backorders only
    fills backorders on these items): locking that item later would break the order.
    """
    r, i = OrderItemInventoryReservation, InventoryItem
    backordered = session.scalars(
        select(r.inventory_item_id)
        .where(r.facility_id == facility_id, r.product_id.in_(sorted(product_ids)))
        .where(r.status_id == RES_ACTIVE, r.quantity_not_available > 0)
        .distinct()
    ).all()
    locked = received_items | set(backordered)
    for item_id in sorted(locked):
        session.execute(
            select(i.inventory_item_id)
            .where(i.facility_id == facility_id, i.inventory_item_id == item_id)
            .with_for_update()
        )
    return locked


def fill_backorders(session: Session, receipt: Receipt, locked: set[str]) -> list[Filled]:
    """Cover up to the received units of backorders (quantityNotAvailable) on the `locked` items
    (lock_items_for_receipt), oldest first. Stock received on an item a new reservation could
    not take (not INV_AVAILABLE, or an expired lot) fills nothing: the backorders wait."""
    if not _promisable_item(session, receipt):
        return []
    r = OrderItemInventoryReservation
    waiting = session.scalars(
        select(r)
        .where(r.facility_id == receipt.facility_id, r.product_id == receipt.product_id)
        .where(r.inventory_item_id.in_(sorted(locked)))
        .where(r.status_id == RES_ACTIVE, r.quantity_not_available > 0)
        .order_by(r.reserved_datetime, r.order_id, r.order_item_seq_id, r.inventory_item_id)
        .with_for_update()
    ).all()
    filled: list[Filled] = []
    left = receipt.quantity
    for row in waiting:
        if left <= 0:
            break
        part = min(left, row.quantity_not_available)
        row.quantity_not_available -= part
        left -= part
        moves = row.inventory_item_id != receipt.inventory_item_id
        to = receipt.inventory_item_id if moves else None
        filled.append(Filled(row.order_id, row.order_item_seq_id, row.inventory_item_id, part, to))
    session.flush()
    moved = [f for f in filled if f.moved_to is not None]
    if moved:
        _move_promises(session, receipt, moved)
    return filled


def _promisable_item(session: Session, receipt: Receipt) -> bool:
    item = session.get(InventoryItem, (receipt.facility_id, receipt.inventory_item_id))
    assert item is not None  # locked by lock_items_for_receipt
    return promisable(item.status_id, item.expire_date, utcnow())


def _move_promises(session: Session, receipt: Receipt, moved: list[Filled]) -> None:
    """ATP back on the backordered items and down on the received one, then the rows follow."""
    postings = []
    for f in moved:
        links = Links(
            order_id=f.order_id,
            order_item_seq_id=f.order_item_seq_id,
            receipt_id=receipt.receipt_id,
            shipment_id=receipt.shipment_id,
            shipment_item_seq_id=receipt.shipment_item_seq_id,
        )
        back = Posting(
            receipt.facility_id,
            f.inventory_item_id,
            MOVED_REASON,
            available_to_promise_diff=f.quantity,
            links=links,
        )
        down = Posting(
            receipt.facility_id,
            receipt.inventory_item_id,
            MOVED_REASON,
            available_to_promise_diff=-f.quantity,
            links=links,
        )
        postings += [back, down]
    # item id order, like reservations; lock_items_for_receipt locked these items up front
    post(session, sorted(postings, key=lambda p: p.inventory_item_id))
    now = utcnow()
    for f in moved:
        old = _row(session, receipt.facility_id, f.order_id, f.order_item_seq_id, f.inventory_item_id)
        old.quantity -= f.quantity
        if old.quantity == 0:  # every unit of it moved: the row ends, as OFBiz cancels and re-reserves
            old.status_id, old.status_datetime = RES_CANCELLED, now
        _add_to_row(session, receipt, f, old, now)
    session.flush()


def _row(
    session: Session, facility_id: str, order_id: str, seq_id: str, item_id: str
) -> OrderItemInventoryReservation:
    row = session.get(OrderItemInventoryReservation, _key(facility_id, order_id, seq_id, item_id))
    assert row is not None, (order_id, seq_id, item_id)  # locked and read just above
    return row


def _key(facility_id: str, order_id: str, seq_id: str, item_id: str) -> dict[str, str]:
    """A reservation's primary key by column name (its order is the table's: migration 0018)."""
    return {
        "facility_id": facility_id,
        "order_id": order_id,
        "order_item_seq_id": seq_id,
        "inventory_item_id": item_id,
    }


def _add_to_row(
    session: Session, receipt: Receipt, f: Filled, old: OrderItemInventoryReservation, now: datetime
) -> None:
    """The order item's row on the received item grows; an ended or missing one starts again
    (keeping the old promise's reservedDatetime, so it stays in its place in the queue)."""
    reserved = old.reserved_datetime
    key = _key(receipt.facility_id, f.order_id, f.order_item_seq_id, receipt.inventory_item_id)
    row = session.get(OrderItemInventoryReservation, key, with_for_update=True)
    if row is None:
        session.add(
            OrderItemInventoryReservation(
                facility_id=receipt.facility_id,
                order_id=f.order_id,
                order_item_seq_id=f.order_item_seq_id,
                inventory_item_id=receipt.inventory_item_id,
                product_id=receipt.product_id,
                ship_group_seq_id=old.ship_group_seq_id,
                quantity=f.quantity,
                quantity_not_available=ZERO,
                reserved_datetime=reserved,
                status_id=RES_ACTIVE,
                status_datetime=now,
            )
        )
    elif row.status_id == RES_ACTIVE:
        row.quantity += f.quantity
    else:
        row.quantity, row.quantity_not_available = f.quantity, ZERO
        row.reserved_datetime, row.status_id, row.status_datetime = reserved, RES_ACTIVE, now
    session.flush()


def total(filled: list[Filled]) -> Decimal:
    return sum((f.quantity for f in filled), ZERO)
