"""A count by productId sets the product's sellable (INV_AVAILABLE) items (SPEC §11).

Σ QOH of those items becomes the counted quantity and no item goes below zero (counts/rules.py):
a surplus is written to one of them (the facility item when it is sellable, else the oldest
sellable item, else a new one); a shortage is taken from expired lots first, then that item,
then the other items FEFO, from unreserved units before reserved ones. Every sellable item's ATP
becomes its QOH − the units reserved on it, so no reservation loses its units. An expired lot
still INV_AVAILABLE is part of the count (it is on the shelf the staff count, and its status
says sellable; only promising skips it). Items on hold, returned or defective are not: they are
counted by inventoryItemId.
"""

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import create_available_item
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.counts.rules import ItemLevel, product_count_variances
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation

INV_AVAILABLE, RES_ACTIVE = "INV_AVAILABLE", "RES_ACTIVE"


def sellable_levels(session: Session, facility_id: str, product_id: str) -> list[ItemLevel]:
    """The product's INV_AVAILABLE items with their active reservations, oldest first (one statement)."""
    i, r = InventoryItem, OrderItemInventoryReservation
    reserved = (
        select(r.inventory_item_id, func.sum(r.quantity).label("reserved"))
        .where(r.facility_id == facility_id, r.product_id == product_id, r.status_id == RES_ACTIVE)
        .group_by(r.inventory_item_id)
        .subquery()
    )
    rows = session.execute(
        select(
            i.inventory_item_id,
            i.quantity_on_hand_total,
            i.available_to_promise_total,
            func.coalesce(reserved.c.reserved, literal_column("0")),
            i.expire_date,
            i.datetime_received,
        )
        .outerjoin(reserved, reserved.c.inventory_item_id == i.inventory_item_id)
        .where(i.facility_id == facility_id, i.product_id == product_id, i.status_id == INV_AVAILABLE)
        .order_by(i.created_stamp, i.inventory_item_id)
    ).all()
    return [
        ItemLevel(item_id, qoh, atp, held or ZERO, expires, received)
        for item_id, qoh, atp, held, expires, received in rows
    ]


def receiving_item(session: Session, facility_item: InventoryItem, levels: Sequence[ItemLevel]) -> str:
    """Where a count by product writes its QOH difference."""
    if facility_item.status_id == INV_AVAILABLE:
        return facility_item.inventory_item_id
    if levels:
        return levels[0].inventory_item_id
    return create_available_item(
        session, facility_item.facility_id, facility_item.product_id
    ).inventory_item_id


def product_variances(
    session: Session, facility_item: InventoryItem, counted: Decimal
) -> tuple[str, dict[str, tuple[Decimal, Decimal]]]:
    """The item the difference goes to, and (QOH var, ATP var) of every sellable item."""
    levels = sellable_levels(session, facility_item.facility_id, facility_item.product_id)
    into = receiving_item(session, facility_item, levels)
    return into, product_count_variances(counted, levels, into, utcnow())
