"""Reads of a facility's stock and catalogue: its inventory items (lots, locations, status,
expiry, totals), the products it carries, and where a product is kept."""

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility, require_product
from stockledger.core.scope import check_facility, facilities_in_scope
from stockledger.ledger.models import (
    FacilityLocation,
    InventoryItem,
    Product,
    ProductFacility,
    ProductFacilityLocation,
)


@dataclass(frozen=True, slots=True)
class StockedItem:
    """An inventory item with its location's area, aisle and section."""

    item: InventoryItem
    area_id: str | None
    aisle_id: str | None
    section_id: str | None


@dataclass(frozen=True, slots=True)
class CarriedProduct:
    """A product of a facility (its ProductFacility row) with the product's name and type."""

    link: ProductFacility
    product_name: str | None
    product_type_id: str | None


def facility_items(
    session: Session, facility_id: str, product_id: str | None, after: str | None, limit: int
) -> list[StockedItem]:
    """The facility's items (of one product, if given) by inventoryItemId; 404 for an unknown
    facility or product, 403 for a facility outside the caller's scope."""
    check_facility(session, facility_id)
    require_facility(session, facility_id)
    i, loc = InventoryItem, FacilityLocation
    stmt = (
        select(i, loc.area_id, loc.aisle_id, loc.section_id)
        .outerjoin(loc, and_(loc.facility_id == i.facility_id, loc.location_seq_id == i.location_seq_id))
        .where(i.facility_id == facility_id)
        .order_by(i.inventory_item_id)
        .limit(limit)
    )
    if product_id is not None:
        require_product(session, product_id)
        stmt = stmt.where(i.product_id == product_id)
    if after is not None:
        stmt = stmt.where(i.inventory_item_id > after)
    return [StockedItem(*row) for row in session.execute(stmt)]


def facility_products(
    session: Session, facility_id: str, after: str | None, limit: int
) -> list[CarriedProduct]:
    """The products the facility carries (ProductFacility rows) by productId; 404 for an unknown facility."""
    check_facility(session, facility_id)
    require_facility(session, facility_id)
    pf, p = ProductFacility, Product
    stmt = (
        select(pf, p.product_name, p.product_type_id)
        .join(p, p.product_id == pf.product_id)
        .where(pf.facility_id == facility_id)
        .order_by(pf.product_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(pf.product_id > after)
    return [CarriedProduct(*row) for row in session.execute(stmt)]


def product_locations(session: Session, product_id: str) -> list[ProductFacilityLocation]:
    """The product's ProductFacilityLocation rows in the caller's facilities, by facility and location."""
    pfl = ProductFacilityLocation
    stmt = select(pfl).where(pfl.product_id == product_id)
    scope = facilities_in_scope(session)
    if scope is not None:
        stmt = stmt.where(pfl.facility_id.in_(sorted(scope)))
    return list(session.scalars(stmt.order_by(pfl.facility_id, pfl.location_seq_id)))
