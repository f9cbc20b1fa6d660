"""Reads of physical inventories: a count with its variances (InventoryItemVariance)."""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from stockledger.core.errors import NotFound, ValidationFailed
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.models import InventoryItem, InventoryItemVariance, PhysicalInventory


@dataclass(frozen=True, slots=True)
class ItemVariance:
    inventory_item_id: str
    product_id: str
    variance_reason_id: str | None
    quantity_on_hand_var: Decimal
    available_to_promise_var: Decimal
    quantity_counted: Decimal | None
    comments: str | None
    change_by_user_login_id: str | None


def get_physical_inventory(
    session: Session, physical_inventory_id: str, facility_id: str | None
) -> tuple[PhysicalInventory, list[ItemVariance]]:
    """The count of that id in the caller's facilities (in `facility_id`, if given), with its
    variances by inventoryItemId. Ids are chosen by the caller, so one may exist in several
    facilities: then `facility_id` must say which (422). None visible: 404, as an unknown id."""
    found = _visible(session, physical_inventory_id, facility_id)
    if not found:
        raise NotFound(
            f"Physical inventory {physical_inventory_id} not found", physicalInventoryId=physical_inventory_id
        )
    if len(found) > 1:
        raise ValidationFailed(
            f"Physical inventory {physical_inventory_id} exists in several facilities: give facilityId",
            physicalInventoryId=physical_inventory_id,
            facilityIds=[p.facility_id for p in found],
        )
    return found[0], _variances(session, found[0])


def _visible(
    session: Session, physical_inventory_id: str, facility_id: str | None
) -> list[PhysicalInventory]:
    p = PhysicalInventory
    stmt = select(p).where(p.physical_inventory_id == physical_inventory_id).order_by(p.facility_id)
    if facility_id is not None:
        stmt = stmt.where(p.facility_id == facility_id)
    scope = facilities_in_scope(session)
    if scope is not None:
        stmt = stmt.where(p.facility_id.in_(sorted(scope)))
    return list(session.scalars(stmt))


def _variances(session: Session, count: PhysicalInventory) -> list[ItemVariance]:
    v, i = InventoryItemVariance, InventoryItem
    rows = session.execute(
        select(
            v.inventory_item_id,
            i.product_id,
            v.variance_reason_id,
            v.quantity_on_hand_var,
            v.available_to_promise_var,
            v.quantity_counted,
            v.comments,
            v.change_by_user_login_id,
        )
        .join(i, and_(i.facility_id == v.facility_id, i.inventory_item_id == v.inventory_item_id))
        .where(v.facility_id == count.facility_id, v.physical_inventory_id == count.physical_inventory_id)
        .order_by(v.inventory_item_id)
    )
    return [ItemVariance(*row) for row in rows]
