"""Read models: the ProductFacilityInventoryItem view, availability, and as-of replay."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, String, Table, func, or_, select
from sqlalchemy.orm import Session

from stockledger.core.errors import NotFound
from stockledger.core.fixed import ZERO, Fixed6
from stockledger.core.model_base import Base
from stockledger.ledger.models import (
    Facility,
    InventoryItem,
    InventoryItemDetail,
    OrderItemInventoryReservation,
    Product,
    ProductFacility,
)

ACTIVE = "RES_ACTIVE"

# A database view (created by the initial migration), declared here for reads only.
product_facility_inventory_item = Table(
    "product_facility_inventory_item",
    Base.metadata,
    Column("facility_id", String(60), primary_key=True),
    Column("product_id", String(60), primary_key=True),
    Column("inventory_item_id", String(60)),
    Column("minimum_stock", Fixed6()),
    Column("quantity_on_hand_total", Fixed6()),
    Column("available_to_promise_total", Fixed6()),
    Column("computed_inventory_count", Fixed6()),
    info={"is_view": True},
)


@dataclass(frozen=True, slots=True)
class Availability:
    facility_id: str
    product_id: str
    quantity_on_hand_total: Decimal
    available_to_promise_total: Decimal
    reserved_quantity: Decimal
    minimum_stock: Decimal
    computed_inventory_count: Decimal
    as_of: datetime | None = None


def availability(
    session: Session, facility_id: str, product_id: str, as_of: datetime | None = None
) -> Availability:
    """QOH, ATP and reservations of a product in a facility, summed over its items."""
    _require_known(session, facility_id, product_id)
    minimum = (
        session.scalar(
            select(ProductFacility.minimum_stock).where(
                ProductFacility.facility_id == facility_id, ProductFacility.product_id == product_id
            )
        )
        or ZERO
    )
    qoh, atp = (
        _ledger_totals(session, facility_id, product_id, as_of)
        if as_of
        else _current_totals(session, facility_id, product_id)
    )
    reserved = _reserved(session, facility_id, product_id, as_of)
    return Availability(facility_id, product_id, qoh, atp, reserved, minimum, atp - minimum, as_of)


def _require_known(session: Session, facility_id: str, product_id: str) -> None:
    if session.get(Facility, facility_id) is None:
        raise NotFound(f"Facility {facility_id} not found", facilityId=facility_id)
    if session.get(Product, product_id) is None:
        raise NotFound(f"Product {product_id} not found", productId=product_id)


def _current_totals(session: Session, facility_id: str, product_id: str) -> tuple[Decimal, Decimal]:
    i = InventoryItem
    row = session.execute(
        select(
            func.coalesce(func.sum(i.quantity_on_hand_total), ZERO),
            func.coalesce(func.sum(i.available_to_promise_total), ZERO),
        ).where(i.facility_id == facility_id, i.product_id == product_id)
    ).one()
    return row[0], row[1]


def _ledger_totals(
    session: Session, facility_id: str, product_id: str, as_of: datetime
) -> tuple[Decimal, Decimal]:
    """Replay: the sum of every detail row effective at or before `as_of`."""
    d, i = InventoryItemDetail, InventoryItem
    row = session.execute(
        select(
            func.coalesce(func.sum(d.quantity_on_hand_diff), ZERO),
            func.coalesce(func.sum(d.available_to_promise_diff), ZERO),
        )
        .join(i, (i.facility_id == d.facility_id) & (i.inventory_item_id == d.inventory_item_id))
        .where(i.facility_id == facility_id, i.product_id == product_id, d.effective_date <= as_of)
    ).one()
    return row[0], row[1]


def _reserved(session: Session, facility_id: str, product_id: str, as_of: datetime | None) -> Decimal:
    r = OrderItemInventoryReservation
    stmt = select(func.coalesce(func.sum(r.quantity), ZERO)).where(
        r.facility_id == facility_id, r.product_id == product_id
    )
    if as_of is None:
        stmt = stmt.where(r.status_id == ACTIVE)
    else:
        stmt = stmt.where(r.reserved_datetime <= as_of, or_(r.status_id == ACTIVE, r.status_datetime > as_of))
    return session.scalar(stmt) or ZERO


def product_facility_rows(
    session: Session,
    facility_id: str | None,
    product_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, object]]:
    """Rows of the ProductFacilityInventoryItem view, keyed (facilityId, productId)."""
    v = product_facility_inventory_item
    stmt = select(v).order_by(v.c.facility_id, v.c.product_id).limit(limit)
    if facility_id:
        stmt = stmt.where(v.c.facility_id == facility_id)
    if product_id:
        stmt = stmt.where(v.c.product_id == product_id)
    if after:
        stmt = stmt.where(
            or_(v.c.facility_id > after[0], (v.c.facility_id == after[0]) & (v.c.product_id > after[1]))
        )
    return [dict(row._mapping) for row in session.execute(stmt)]
