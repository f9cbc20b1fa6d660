"""getPickSuggestions: an order's active reservations as a pick list, FEFO, with locations."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session

from stockledger.core.scope import may_see
from stockledger.core.sqlclock import utc_now
from stockledger.ledger.models import FacilityLocation, InventoryItem, OrderItemInventoryReservation, Product
from stockledger.reservations.rules import INV_AVAILABLE, RES_ACTIVE


@dataclass(frozen=True, slots=True)
class PickSuggestion:
    facility_id: str
    order_item_seq_id: str
    inventory_item_id: str
    product_id: str
    product_name: str | None
    lot_id: str | None
    quantity_to_pick: Decimal
    location_seq_id: str | None
    area_id: str | None
    aisle_id: str | None
    section_id: str | None
    expire_date: datetime | None


def pick_suggestions(session: Session, order_id: str, allow_expired: bool = False) -> list[PickSuggestion]:
    """What to pick for the order: reserved units physically there (not backordered), FEFO;
    units on an expired lot only when `allow_expired`."""
    r, i, p, loc = OrderItemInventoryReservation, InventoryItem, Product, FacilityLocation
    live = true() if allow_expired else or_(i.expire_date.is_(None), i.expire_date > utc_now())
    rows = session.execute(
        select(
            r.facility_id,
            r.order_item_seq_id,
            r.inventory_item_id,
            r.product_id,
            p.product_name,
            i.lot_id,
            r.quantity,
            r.quantity_not_available,
            i.location_seq_id,
            loc.area_id,
            loc.aisle_id,
            loc.section_id,
            i.expire_date,
        )
        .join(i, and_(i.facility_id == r.facility_id, i.inventory_item_id == r.inventory_item_id))
        .join(p, p.product_id == r.product_id)
        .outerjoin(loc, and_(loc.facility_id == i.facility_id, loc.location_seq_id == i.location_seq_id))
        .where(r.order_id == order_id, r.status_id == RES_ACTIVE, i.status_id == INV_AVAILABLE, live)
        .order_by(
            r.facility_id,
            i.expire_date.is_(None),
            i.expire_date,
            i.datetime_received.is_(None),
            i.datetime_received,
            i.inventory_item_id,
            r.order_item_seq_id,
        )
    ).all()
    return [
        PickSuggestion(fac, seq, item, prod, name, lot, qty - qna, *rest)
        for fac, seq, item, prod, name, lot, qty, qna, *rest in rows
        if qty - qna > 0 and may_see(session, fac)  # a scoped token sees its facilities' lines only
    ]
