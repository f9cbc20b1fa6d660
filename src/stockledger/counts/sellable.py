"""A count by productId sets the product's sellable items (SPEC §11): the promisable ones,
INV_AVAILABLE and not expired (no expireDate, or one later than now), as variances, resets and
availability count them.

Σ QOH of those items becomes the counted quantity and no item goes below zero (counts/rules.py):
a surplus is written to one of them (the facility item when it is sellable, else the oldest
sellable item, else a new one); a shortage is taken from that item, then the other items FEFO,
from unreserved units before reserved ones. Every sellable item's ATP becomes its QOH − the units
reserved on it, so no reservation loses its units. Items on hold, returned, defective or past
their expireDate are left as they are (an outside tester saw a count by product write an
expired lot to 0 as VAR_LOST): they are counted by inventoryItemId.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import create_available_item
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.counts.rules import ItemLevel, product_count_variances
from stockledger.ledger.items import lock_items_in_id_order
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.reservations.rules import promisable

INV_AVAILABLE, RES_ACTIVE = "INV_AVAILABLE", "RES_ACTIVE"


def is_sellable(item: InventoryItem, now: datetime) -> bool:
    """Part of a count by product: INV_AVAILABLE and not expired at `now` (what sellable_levels reads)."""
    return promisable(item.status_id, item.expire_date, now)


def sellable_levels(session: Session, facility_id: str, product_id: str, now: datetime) -> list[ItemLevel]:
    """The product's promisable items (INV_AVAILABLE, not expired at `now`) with their active
    reservations, oldest first (one statement)."""
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
        .where(or_(i.expire_date.is_(None), i.expire_date > now))
        .order_by(i.created_stamp, i.inventory_item_id)
    ).all()
    return [
        ItemLevel(item_id, qoh, atp, held or ZERO, expires, received)
        for item_id, qoh, atp, held, expires, received in rows
    ]


def receiving_item(session: Session, facility_item: InventoryItem, levels: Sequence[ItemLevel]) -> str:
    """Where a count by product writes its QOH difference: the facility item when it is one of
    the sellable `levels`, else the oldest of them, else a new empty item."""
    if any(level.inventory_item_id == facility_item.inventory_item_id for level in levels):
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
    levels = sellable_levels(session, facility_item.facility_id, facility_item.product_id, utcnow())
    into = receiving_item(session, facility_item, levels)
    return into, product_count_variances(counted, levels, into)


def lock_product_items(session: Session, facility_id: str, product_ids: set[str]) -> None:
    """Every item of the products in the facility, locked in id order (the ledger's lock order),
    before any total or level is read: a concurrent count or removal by product then reads what
    the other left."""
    lock_items_in_id_order(session, facility_id, InventoryItem.product_id.in_(product_ids))
