"""Reads of inventory items and their ledger rows, by id and within the caller's scope; locks of
items in the ledger's order."""

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from stockledger.core.errors import NotFound
from stockledger.core.scope import check_owner
from stockledger.ledger.models import InventoryItem, InventoryItemDetail


def find_inventory_item(
    session: Session, inventory_item_id: str, facility_id: str | None = None
) -> InventoryItem | None:
    """An item by its id (ids are unique across facilities), optionally within one facility."""
    stmt = select(InventoryItem).where(InventoryItem.inventory_item_id == inventory_item_id)
    if facility_id is not None:
        stmt = stmt.where(InventoryItem.facility_id == facility_id)
    return session.scalars(stmt.limit(1)).first()


def lock_items_in_id_order(session: Session, facility_id: str, which: ColumnElement[bool]) -> None:
    """The facility's items `which` selects, locked in id order (the ledger's lock order) before
    the caller reads their totals."""
    i = InventoryItem
    session.execute(
        select(i.inventory_item_id)
        .where(i.facility_id == facility_id, which)
        .order_by(i.inventory_item_id)
        .with_for_update()
    ).all()


def get_inventory_item(session: Session, inventory_item_id: str) -> InventoryItem:
    """An item by its id alone, or 404; 403 if the caller may not see its facility."""
    item = find_inventory_item(session, inventory_item_id)
    if item is None:
        raise NotFound(f"Inventory item {inventory_item_id} not found", inventoryItemId=inventory_item_id)
    what = f"inventory item {inventory_item_id}"
    check_owner(session, item.facility_id, what, inventoryItemId=inventory_item_id)
    return item


def list_details(
    session: Session, item: InventoryItem, after_seq: int | None, limit: int, newest_first: bool = False
) -> list[InventoryItemDetail]:
    """An item's ledger rows in the order they were written, `limit` of them after a cursor."""
    d = InventoryItemDetail
    order = d.seq_num.desc() if newest_first else d.seq_num
    stmt = (
        select(d)
        .where(d.facility_id == item.facility_id, d.inventory_item_id == item.inventory_item_id)
        .order_by(order)
        .limit(limit)
    )
    if after_seq is not None:
        stmt = stmt.where(d.seq_num < after_seq if newest_first else d.seq_num > after_seq)
    return list(session.scalars(stmt))
