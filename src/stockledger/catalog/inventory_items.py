"""findOrCreateFacilityInventoryItem: one facility item per product, safe under concurrency."""

from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from stockledger.core.dialects import upsert
from stockledger.core.errors import NotFound
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.ledger.models import Facility, InventoryItem, Product, ProductFacility
from stockledger.resets.facility_items import find_or_create_facility_items

PF = cast(Table, ProductFacility.__table__)


def require_facility(session: Session, facility_id: str) -> Facility:
    facility = session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(f"Facility {facility_id} not found", facilityId=facility_id)
    return facility


def require_product(session: Session, product_id: str) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"Product {product_id} not found", productId=product_id)
    return product


def find_or_create_facility_inventory_item(
    session: Session, facility_id: str, product_id: str
) -> InventoryItem:
    """The ProductFacility's item; creates the link and a zero item when missing.

    Insert-on-conflict, then a conditional UPDATE of the link: two concurrent callers
    race on the ProductFacility row, the database picks one winner, and the other
    re-reads the winner's item. No check-then-insert window.
    """
    linked = _linked_item_id(session, facility_id, product_id)
    if linked is None:
        require_facility(session, facility_id)
        require_product(session, product_id)
        linked = _claim_link(session, facility_id, product_id)
    item = session.get(InventoryItem, (facility_id, linked))
    if item is None:  # the link names an item that is gone: a broken database, not bad input
        raise NotFound(f"Inventory item {linked} linked from {facility_id}/{product_id} not found")
    return item


def create_available_item(session: Session, facility_id: str, product_id: str) -> InventoryItem:
    """A new, empty INV_AVAILABLE item (no lot, no location) of a product whose items are all
    non-promisable, for stock that must be promisable (a backorder, a count of sellable stock)."""
    item = InventoryItem(
        facility_id=facility_id,
        inventory_item_id=new_id("II"),
        product_id=product_id,
        datetime_received=utcnow(),
    )
    session.add(item)
    session.flush()
    return item


def link_product_facility(session: Session, facility_id: str, product_id: str, item_id: str) -> bool:
    """Make `item_id` the facility item unless one is linked already; True if it became it."""
    session.execute(
        upsert(session, PF)
        .values(facility_id=facility_id, product_id=product_id)
        .on_conflict_do_nothing(index_elements=["facility_id", "product_id"])
    )
    claimed = session.execute(
        update(PF)
        .where(PF.c.facility_id == facility_id, PF.c.product_id == product_id)
        .where(PF.c.inventory_item_id.is_(None))
        .values(inventory_item_id=item_id)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _linked_item_id(session: Session, facility_id: str, product_id: str) -> str | None:
    return session.execute(
        select(PF.c.inventory_item_id).where(PF.c.facility_id == facility_id, PF.c.product_id == product_id)
    ).scalar_one_or_none()


def _claim_link(session: Session, facility_id: str, product_id: str) -> str:
    existing = _oldest_item_id(session, facility_id, product_id)
    candidate = existing or new_id("II")
    if link_product_facility(session, facility_id, product_id, candidate):
        if existing is None:
            session.add(
                InventoryItem(
                    facility_id=facility_id,
                    inventory_item_id=candidate,
                    product_id=product_id,
                    datetime_received=utcnow(),
                )
            )
            session.flush()
        return candidate
    winner = _linked_item_id(session, facility_id, product_id)
    assert winner is not None  # the UPDATE lost only because another caller linked one
    return winner


def _oldest_item_id(session: Session, facility_id: str, product_id: str) -> str | None:
    i = InventoryItem
    return session.execute(
        select(i.inventory_item_id)
        .where(i.facility_id == facility_id, i.product_id == product_id)
        .order_by(i.created_stamp, i.inventory_item_id)
        .limit(1)
    ).scalar_one_or_none()


def promisable_facility_item(session: Session, facility_id: str, product_id: str) -> InventoryItem:
    """The facility item of one product for stock added by productId (an increase, a receipt, a
    variance), by the reset's rule: a held or expired facility item gives its link to the oldest
    promisable item, else a new zero one, so the stock shows in availability."""
    require_facility(session, facility_id)
    require_product(session, product_id)
    item_id = find_or_create_facility_items(session, [(facility_id, product_id)])[(facility_id, product_id)]
    item = session.get(InventoryItem, (facility_id, item_id))
    assert item is not None  # linked or inserted by this transaction just now
    return item
