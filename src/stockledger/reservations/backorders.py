"""BACKORDER: which item carries the uncovered part of a line (never a non-promisable one)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import create_available_item, find_or_create_facility_inventory_item
from stockledger.reservations.rules import Candidate, promisable, usable


def backorder_item(
    session: Session,
    facility_id: str,
    product_id: str,
    lot_id: str | None,
    candidates: Sequence[Candidate],
    now: datetime,
    allow_expired: bool = False,
) -> str:
    """The lot's last FEFO item for a lot line; else the facility item (findOrCreate) when a new
    reservation may take it; else the product's last FEFO promisable item; else a new
    INV_AVAILABLE item. `candidates`: the product's locked items, FEFO order."""
    fit = [c for c in candidates if usable(c, now, allow_expired)]
    if lot_id is not None:
        lot_items = [c for c in fit if c.lot_id == lot_id]
        if lot_items:
            return lot_items[-1].inventory_item_id
    item = find_or_create_facility_inventory_item(session, facility_id, product_id)
    if promisable(item.status_id, item.expire_date, now, allow_expired):
        return item.inventory_item_id
    if fit:
        return fit[-1].inventory_item_id
    return create_available_item(session, facility_id, product_id).inventory_item_id
