"""Reads of the catalogue: facilities and products (items and their rows: ledger/items.py)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility, require_product
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.models import (
    Facility,
    FacilityLocation,
    Product,
    ProductFacility,
)


def get_facility(session: Session, facility_id: str) -> tuple[Facility, list[FacilityLocation]]:
    facility = require_facility(session, facility_id)
    locations = session.scalars(
        select(FacilityLocation)
        .where(FacilityLocation.facility_id == facility_id)
        .order_by(FacilityLocation.location_seq_id)
    ).all()
    return facility, list(locations)


def get_product(session: Session, product_id: str) -> tuple[Product, list[ProductFacility]]:
    """The product (shared by every facility) with its ProductFacility rows of the caller's facilities."""
    product = require_product(session, product_id)
    stmt = select(ProductFacility).where(ProductFacility.product_id == product_id)
    scope = facilities_in_scope(session)
    if scope is not None:
        stmt = stmt.where(ProductFacility.facility_id.in_(sorted(scope)))
    return product, list(session.scalars(stmt.order_by(ProductFacility.facility_id)))
