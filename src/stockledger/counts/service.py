"""createPhysicalInventory from a count: QOH := counted, ATP := counted − active reservations.

A line by inventoryItemId works on that item alone. A line by productId compares with the
product's totals over all its items in the facility and writes the difference to the
facility item (findOrCreateFacilityInventoryItem). Each line leaves an InventoryItemVariance
row (with quantityCounted) and, when something moved, one ledger row linked to the count.
A count id sent again changes nothing: the same counts answer what was recorded, others 409.
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item, require_facility
from stockledger.core.actor import acting_user
from stockledger.core.errors import Conflict, NotFound, ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.counts.rules import count_variances, variance_reason
from stockledger.counts.schemas import CountDoc, CountedVariance, CountLine, CountResult
from stockledger.events.outbox import record_event
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemVariance,
    OrderItemInventoryReservation,
    PhysicalInventory,
    VarianceReason,
)
from stockledger.ledger.post import Links, Posting, post

ACTIVE = "RES_ACTIVE"


@dataclass(frozen=True, slots=True)
class _Target:
    line: CountLine
    item: InventoryItem
    by_product: bool


def record_count(session: Session, doc: CountDoc) -> CountResult:
    """Record a cycle count and post its variances; idempotent by physicalInventoryId."""
    require_facility(session, doc.facility_id)
    targets = [_target(session, doc.facility_id, line) for line in doc.counts]
    existing = session.get(PhysicalInventory, (doc.facility_id, doc.physical_inventory_id))
    if existing is not None:
        return _already_recorded(session, doc, existing, targets)
    _check_lines(session, targets)
    _lock_items(session, doc.facility_id, {t.item.product_id for t in targets})
    when = utcnow()
    session.add(
        PhysicalInventory(
            facility_id=doc.facility_id,
            physical_inventory_id=doc.physical_inventory_id,
            physical_inventory_date=doc.physical_inventory_date or when,
            party_id=doc.party_id,
            general_comments=doc.general_comments,
        )
    )
    session.flush()
    variances = [_count_one(session, doc, t) for t in targets]
    return CountResult(
        physical_inventory_id=doc.physical_inventory_id,
        facility_id=doc.facility_id,
        physical_inventory_date=doc.physical_inventory_date or when,
        already_recorded=False,
        variances=variances,
    )


def _target(session: Session, facility_id: str, line: CountLine) -> _Target:
    if line.product_id is not None:
        return _Target(
            line, find_or_create_facility_inventory_item(session, facility_id, line.product_id), True
        )
    item = session.get(InventoryItem, (facility_id, line.inventory_item_id))
    if item is None:
        raise NotFound(
            f"Inventory item {line.inventory_item_id} not found in facility {facility_id}",
            inventoryItemId=line.inventory_item_id,
        )
    return _Target(line, item, False)


def _check_lines(session: Session, targets: list[_Target]) -> None:
    """One line per item, and a product counted as a whole is not also counted item by item."""
    whole = [t.item.product_id for t in targets if t.by_product]
    items = [t.item.inventory_item_id for t in targets]
    if len(set(whole)) != len(whole) or len(set(items)) != len(items):
        raise ValidationFailed("Each product or item may be counted once per physical inventory")
    if any(not t.by_product and t.item.product_id in whole for t in targets):
        raise ValidationFailed("A product counted by productId cannot also be counted by inventoryItemId")
    for reason in {t.line.variance_reason_id for t in targets} - {None}:
        if session.get(VarianceReason, reason) is None:
            raise ValidationFailed(f"Unknown variance reason {reason}", varianceReasonId=reason)


def _lock_items(session: Session, facility_id: str, product_ids: set[str]) -> None:
    """Every item of the counted products, locked in id order, before any total is read."""
    i = InventoryItem
    session.execute(
        select(i.inventory_item_id)
        .where(i.facility_id == facility_id, i.product_id.in_(product_ids))
        .order_by(i.inventory_item_id)
        .with_for_update()
    ).all()


def _count_one(session: Session, doc: CountDoc, target: _Target) -> CountedVariance:
    item, line = target.item, target.line
    qoh, atp = _current(session, item, target.by_product)
    reserved = _reserved(session, item, target.by_product)
    qoh_var, atp_var = count_variances(line.quantity_counted, qoh, atp, reserved)
    reason = variance_reason(qoh_var, atp_var, line.variance_reason_id)
    session.add(
        InventoryItemVariance(
            facility_id=item.facility_id,
            inventory_item_id=item.inventory_item_id,
            physical_inventory_id=doc.physical_inventory_id,
            variance_reason_id=reason,
            quantity_on_hand_var=qoh_var,
            available_to_promise_var=atp_var,
            quantity_counted=line.quantity_counted,
            comments=line.comments,
        )
    )
    seq_id = _post_variance(session, doc, target, qoh_var, atp_var, reason) if qoh_var or atp_var else None
    return CountedVariance(
        inventory_item_id=item.inventory_item_id,
        product_id=item.product_id,
        quantity_counted=line.quantity_counted,
        quantity_on_hand_var=qoh_var,
        available_to_promise_var=atp_var,
        variance_reason_id=reason,
        inventory_item_detail_seq_id=seq_id,
    )


def _post_variance(
    session: Session, doc: CountDoc, target: _Target, qoh_var: Decimal, atp_var: Decimal, reason: str | None
) -> str:
    item = target.item
    posted = post(
        session,
        Posting(
            item.facility_id,
            item.inventory_item_id,
            reason or "VAR_INTEGR",
            quantity_on_hand_diff=qoh_var,
            available_to_promise_diff=atp_var,
            links=Links(
                physical_inventory_id=doc.physical_inventory_id,
                change_by_user_login_id=acting_user(session) or doc.party_id,
                description=target.line.comments,
            ),
        ),
    )
    record_event(
        session,
        item.facility_id,
        "InventoryChanged",
        {
            "facilityId": item.facility_id,
            "productId": item.product_id,
            "inventoryItemId": item.inventory_item_id,
            "inventoryItemDetailSeqId": posted.inventory_item_detail_seq_id,
            "physicalInventoryId": doc.physical_inventory_id,
            "reasonEnumId": reason,
            "quantityCounted": target.line.quantity_counted,
            "quantityOnHandDiff": qoh_var,
            "availableToPromiseDiff": atp_var,
            "quantityOnHandTotal": posted.quantity_on_hand_total,
            "availableToPromiseTotal": posted.available_to_promise_total,
        },
    )
    return posted.inventory_item_detail_seq_id


def _current(session: Session, item: InventoryItem, by_product: bool) -> tuple[Decimal, Decimal]:
    if not by_product:
        session.refresh(item, ["quantity_on_hand_total", "available_to_promise_total"])
        return item.quantity_on_hand_total, item.available_to_promise_total
    i = InventoryItem
    row = session.execute(
        select(
            func.coalesce(func.sum(i.quantity_on_hand_total), ZERO),
            func.coalesce(func.sum(i.available_to_promise_total), ZERO),
        ).where(i.facility_id == item.facility_id, i.product_id == item.product_id)
    ).one()
    return row[0], row[1]


def _reserved(session: Session, item: InventoryItem, by_product: bool) -> Decimal:
    """Active reservations on the item, or on the product in the facility."""
    r = OrderItemInventoryReservation
    stmt = select(func.coalesce(func.sum(r.quantity), ZERO)).where(
        r.facility_id == item.facility_id, r.status_id == ACTIVE
    )
    if by_product:
        stmt = stmt.where(r.product_id == item.product_id)
    else:
        stmt = stmt.where(r.inventory_item_id == item.inventory_item_id)
    return session.scalar(stmt) or ZERO


def _already_recorded(
    session: Session, doc: CountDoc, existing: PhysicalInventory, targets: list[_Target]
) -> CountResult:
    """The same count again: answer what was recorded. Different counts under that id: 409."""
    v = InventoryItemVariance
    stored = session.scalars(
        select(v).where(
            v.facility_id == doc.facility_id, v.physical_inventory_id == doc.physical_inventory_id
        )
    ).all()
    asked = {(t.item.inventory_item_id, t.line.quantity_counted) for t in targets}
    if {(s.inventory_item_id, s.quantity_counted) for s in stored} != asked:
        raise Conflict(
            f"Physical inventory {doc.physical_inventory_id} was already recorded with other counts",
            physicalInventoryId=doc.physical_inventory_id,
        )
    products = {t.item.inventory_item_id: t.item.product_id for t in targets}
    return CountResult(
        physical_inventory_id=existing.physical_inventory_id,
        facility_id=existing.facility_id,
        physical_inventory_date=existing.physical_inventory_date,
        already_recorded=True,
        variances=[
            CountedVariance(
                inventory_item_id=s.inventory_item_id,
                product_id=products[s.inventory_item_id],
                quantity_counted=s.quantity_counted,
                quantity_on_hand_var=s.quantity_on_hand_var,
                available_to_promise_var=s.available_to_promise_var,
                variance_reason_id=s.variance_reason_id,
            )
            for s in stored
        ],
    )
