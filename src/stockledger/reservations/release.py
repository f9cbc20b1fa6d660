"""cancelOrderItemInventoryReservation: an order item's active reservations end, ATP comes back."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.errors import NotFound
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.core.transactions import savepoint
from stockledger.events.outbox import record_event
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.ledger.post import Links, Posted, Posting, post
from stockledger.reservations.rules import RELEASE_REASON, RES_ACTIVE, RES_CANCELLED


@dataclass(frozen=True, slots=True)
class ReleasedRow:
    facility_id: str
    inventory_item_id: str
    product_id: str
    quantity: Decimal
    quantity_not_available: Decimal
    posted: Posted | None  # the release's detail row and the item's totals after it


@dataclass(frozen=True, slots=True)
class Released:
    order_id: str
    order_item_seq_id: str
    rows: list[ReleasedRow] = field(default_factory=list)

    @property
    def quantity_released(self) -> Decimal:
        return sum((r.quantity for r in self.rows), ZERO)


def cancel_reservation(
    session: Session, facility_id: str | None, order_id: str, order_item_seq_id: str
) -> Released:
    """Release every active reservation of the order item (in one facility, or any the caller may
    touch); 404 if none."""
    released = release_reservation(session, facility_id, order_id, order_item_seq_id)
    if not released.rows:
        raise NotFound(
            f"Order item {order_id}/{order_item_seq_id} has no active reservation",
            orderId=order_id,
            orderItemSeqId=order_item_seq_id,
        )
    return released


def release_reservation(
    session: Session,
    facility_id: str | None,
    order_id: str,
    order_item_seq_id: str,
    *,
    reason_enum_id: str = RELEASE_REASON,
    description: str | None = None,
) -> Released:
    """ATP + quantity per active row (its own detail row), status RES_CANCELLED; none: empty."""
    _lock_reserved_items(session, facility_id, order_id, order_item_seq_id)
    rows = _active_rows(session, facility_id, order_id, order_item_seq_id, lock=True)
    links = Links(order_id=order_id, order_item_seq_id=order_item_seq_id, description=description)
    posted = post(
        session,
        [
            Posting(
                r.facility_id,
                r.inventory_item_id,
                reason_enum_id,
                available_to_promise_diff=r.quantity,
                links=links,
            )
            for r in rows
            if r.quantity != 0
        ],
    )
    by_item = {(p.facility_id, p.inventory_item_id): p for p in posted}
    now = utcnow()
    for r in rows:
        r.status_id, r.status_datetime = RES_CANCELLED, now
    session.flush()
    released = Released(
        order_id,
        order_item_seq_id,
        [
            ReleasedRow(
                r.facility_id,
                r.inventory_item_id,
                r.product_id,
                r.quantity,
                r.quantity_not_available,
                by_item.get((r.facility_id, r.inventory_item_id)),
            )
            for r in rows
        ],
    )
    for facility in sorted({r.facility_id for r in released.rows}):
        record_event(session, facility, "ReservationReleased", _event(released, facility, reason_enum_id))
    return released


def _lock_reserved_items(session: Session, facility_id: str | None, order_id: str, seq_id: str) -> None:
    """Items before reservation rows, in item id order: the order reserve_stock locks them in.

    Which items is read from the rows before they are locked, and a receipt may move a row to
    another item meanwhile (it holds the old item while it does). So after the locks the rows
    are read again: an item not locked means a move committed in between; the locks are then
    given back (core.transactions.savepoint, undone) and taken again, in order, with the new
    item. Once the items are held no row can move off them.
    """
    keys = _item_keys(session, facility_id, order_id, seq_id)
    while True:
        with savepoint(session) as point:
            i = InventoryItem
            for facility, item_id in sorted(keys):
                session.execute(
                    select(i.inventory_item_id)
                    .where(i.facility_id == facility, i.inventory_item_id == item_id)
                    .with_for_update()
                )
            now = _item_keys(session, facility_id, order_id, seq_id)
            if now <= keys:
                return  # the savepoint released: the locks stay with the transaction
            point.undo()
        keys |= now


def _item_keys(session: Session, facility_id: str | None, order_id: str, seq_id: str) -> set[tuple[str, str]]:
    return {
        (r.facility_id, r.inventory_item_id) for r in _active_rows(session, facility_id, order_id, seq_id)
    }


def _active_rows(
    session: Session, facility_id: str | None, order_id: str, seq_id: str, lock: bool = False
) -> list[OrderItemInventoryReservation]:
    r = OrderItemInventoryReservation
    stmt = (
        select(r)
        .where(r.order_id == order_id, r.order_item_seq_id == seq_id, r.status_id == RES_ACTIVE)
        .order_by(r.facility_id, r.inventory_item_id)
    )
    if facility_id is not None:
        stmt = stmt.where(r.facility_id == facility_id)
    scope = facilities_in_scope(session)
    if scope is not None:  # a scoped token acts on its facilities' part only, and learns nothing of others
        stmt = stmt.where(r.facility_id.in_(sorted(scope)))
    if not lock:
        return list(session.scalars(stmt))
    # Rows are locked one facility at a time: on Citus a FOR UPDATE must stay on one shard.
    stmt = stmt.with_for_update().execution_options(populate_existing=True)
    facilities = [facility_id] if facility_id is not None else _facilities(session, order_id, seq_id)
    if scope is not None:
        facilities = [f for f in facilities if f in scope]
    return [row for f in facilities for row in session.scalars(stmt.where(r.facility_id == f))]


def _facilities(session: Session, order_id: str, seq_id: str) -> list[str]:
    r = OrderItemInventoryReservation
    found = select(r.facility_id).where(
        r.order_id == order_id, r.order_item_seq_id == seq_id, r.status_id == RES_ACTIVE
    )
    return sorted(set(session.scalars(found)))


def _event(released: Released, facility_id: str, reason: str) -> dict[str, Any]:
    rows = [r for r in released.rows if r.facility_id == facility_id]
    return {
        "facilityId": facility_id,
        "orderId": released.order_id,
        "orderItemSeqId": released.order_item_seq_id,
        "productId": rows[0].product_id,
        "reasonEnumId": reason,
        "quantityReleased": sum((r.quantity for r in rows), ZERO),
        "releases": [
            {"inventoryItemId": r.inventory_item_id, "productId": r.product_id, "quantity": r.quantity}
            for r in rows
        ],
    }
