"""Reads of reservations: an order's reservations (getReservationsForItem, seed 003), every status."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from stockledger.core.pagination import after_key
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation

ReservationKey = tuple[str, str, str]  # facilityId, orderItemSeqId, inventoryItemId


@dataclass(frozen=True, slots=True)
class OrderReservation:
    facility_id: str
    order_item_seq_id: str
    ship_group_seq_id: str | None
    product_id: str
    inventory_item_id: str
    lot_id: str | None
    quantity: Decimal
    quantity_not_available: Decimal
    status_id: str
    reserved_datetime: datetime
    status_datetime: datetime

    @property
    def key(self) -> ReservationKey:
        return (self.facility_id, self.order_item_seq_id, self.inventory_item_id)


def order_reservations(
    session: Session, order_id: str, after: ReservationKey | None, limit: int
) -> list[OrderReservation]:
    """The order's reservations in the caller's facilities (active and cancelled), keyed by
    facility, order item and inventory item; an order with none (or none visible) has an empty list."""
    r, i = OrderItemInventoryReservation, InventoryItem
    key = (r.facility_id, r.order_item_seq_id, r.inventory_item_id)
    stmt = (
        select(
            r.facility_id,
            r.order_item_seq_id,
            r.ship_group_seq_id,
            r.product_id,
            r.inventory_item_id,
            i.lot_id,
            r.quantity,
            r.quantity_not_available,
            r.status_id,
            r.reserved_datetime,
            r.status_datetime,
        )
        .join(i, and_(i.facility_id == r.facility_id, i.inventory_item_id == r.inventory_item_id))
        .where(r.order_id == order_id)
        .order_by(*key)
        .limit(limit)
    )
    scope = facilities_in_scope(session)
    if scope is not None:
        stmt = stmt.where(r.facility_id.in_(sorted(scope)))
    if after is not None:
        stmt = stmt.where(after_key(key, after))
    return [OrderReservation(*row) for row in session.execute(stmt)]
