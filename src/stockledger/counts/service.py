"""createPhysicalInventory from a count: QOH := counted; each counted item's ATP := its QOH −
the units actively reserved on it (SPEC §11: reserved units never vanish).

A line by inventoryItemId works on that item alone (how items on hold, returned, defective or
expired are counted). A line by productId sets the product's sellable (promisable) items
(counts/sellable.py): their Σ QOH becomes the counted quantity. Each line leaves an
InventoryItemVariance row (with quantityCounted) and, when something moved, one ledger row
linked to the count; a sellable item whose ATP only is corrected gets a row without
quantityCounted. A count id sent again changes nothing: the same counts answer what was
recorded, others 409.
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
from stockledger.counts.sellable import is_sellable, lock_product_items, product_variances
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
    lock_product_items(session, doc.facility_id, {t.item.product_id for t in targets})
    when = utcnow()
    session.add(
        PhysicalInventory(
            facility_id=doc.facility_id,
            physical_inventory_id=doc.physical_inventory_id,
            physical_inventory_date=doc.physical_inventory_date or when,
            party_id=doc.party_id,
            general_comments=doc.general_comments,
            change_by_user_login_id=acting_user(session) or doc.party_id,
        )
    )
    session.flush()
    variances = [v for t in targets for v in _count_one(session, doc, t)]
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
    """One line per item, and a product counted as a whole has only its non-sellable items (held,
    returned, defective, expired) counted item by item (its sellable ones are part of the whole)."""
    whole = [t.item.product_id for t in targets if t.by_product]
    items = [t.item.inventory_item_id for t in targets if not t.by_product]
    if len(set(whole)) != len(whole) or len(set(items)) != len(items):
        raise ValidationFailed("Each product or item may be counted once per physical inventory")
    now = utcnow()
    for t in targets:
        if not t.by_product and t.item.product_id in whole and is_sellable(t.item, now):
            raise ValidationFailed(
                "A sellable item of a product counted by productId cannot also be counted by inventoryItemId",
                inventoryItemId=t.item.inventory_item_id,
            )
    for reason in {t.line.variance_reason_id for t in targets} - {None}:
        if session.get(VarianceReason, reason) is None:
            raise NotFound(f"Unknown variance reason {reason}", varianceReasonId=reason)


def _count_one(session: Session, doc: CountDoc, target: _Target) -> list[CountedVariance]:
    item, line = target.item, target.line
    if target.by_product:
        return _count_product(session, doc, target)
    session.refresh(item, ["quantity_on_hand_total", "available_to_promise_total"])
    reserved = _reserved(session, item)
    qoh_var, atp_var = count_variances(
        line.quantity_counted, item.quantity_on_hand_total, item.available_to_promise_total, reserved
    )
    return [_record(session, doc, item.inventory_item_id, item.product_id, line, True, (qoh_var, atp_var))]


def _count_product(session: Session, doc: CountDoc, target: _Target) -> list[CountedVariance]:
    """The counted line on the item that takes the difference; an ATP correction on any other
    sellable item whose ATP was not its QOH − its reservations."""
    into, variances = product_variances(session, target.item, target.line.quantity_counted)
    product_id = target.item.product_id
    done = [_record(session, doc, into, product_id, target.line, True, variances.pop(into))]
    for item_id, moves in sorted(variances.items()):
        if any(moves):
            done.append(_record(session, doc, item_id, product_id, target.line, False, moves))
    return done


def _record(
    session: Session,
    doc: CountDoc,
    item_id: str,
    product_id: str,
    line: CountLine,
    counted_here: bool,
    moves: tuple[Decimal, Decimal],
) -> CountedVariance:
    """The variance row of one item and, when something moved, its ledger row and event."""
    qoh_var, atp_var = moves
    counted = line.quantity_counted if counted_here else None
    reason = variance_reason(qoh_var, atp_var, line.variance_reason_id)
    session.add(
        InventoryItemVariance(
            facility_id=doc.facility_id,
            inventory_item_id=item_id,
            physical_inventory_id=doc.physical_inventory_id,
            variance_reason_id=reason,
            quantity_on_hand_var=qoh_var,
            available_to_promise_var=atp_var,
            quantity_counted=counted,
            comments=line.comments,
            change_by_user_login_id=acting_user(session) or doc.party_id,
        )
    )
    seq_id = None
    if qoh_var or atp_var:
        seq_id = _post_variance(session, doc, item_id, product_id, line, counted, moves, reason)
    return CountedVariance(
        inventory_item_id=item_id,
        product_id=product_id,
        quantity_counted=counted,
        quantity_on_hand_var=qoh_var,
        available_to_promise_var=atp_var,
        variance_reason_id=reason,
        inventory_item_detail_seq_id=seq_id,
    )


def _post_variance(
    session: Session,
    doc: CountDoc,
    item_id: str,
    product_id: str,
    line: CountLine,
    counted: Decimal | None,
    moves: tuple[Decimal, Decimal],
    reason: str | None,
) -> str:
    qoh_var, atp_var = moves
    posted = post(
        session,
        Posting(
            doc.facility_id,
            item_id,
            reason or "VAR_INTEGR",
            quantity_on_hand_diff=qoh_var,
            available_to_promise_diff=atp_var,
            links=Links(
                physical_inventory_id=doc.physical_inventory_id,
                change_by_user_login_id=acting_user(session) or doc.party_id,
                description=line.comments,
            ),
        ),
    )
    record_event(
        session,
        doc.facility_id,
        "InventoryChanged",
        {
            "facilityId": doc.facility_id,
            "productId": product_id,
            "inventoryItemId": item_id,
            "inventoryItemDetailSeqId": posted.inventory_item_detail_seq_id,
            "physicalInventoryId": doc.physical_inventory_id,
            "reasonEnumId": reason,
            "quantityCounted": counted,
            "quantityOnHandDiff": qoh_var,
            "availableToPromiseDiff": atp_var,
            "quantityOnHandTotal": posted.quantity_on_hand_total,
            "availableToPromiseTotal": posted.available_to_promise_total,
        },
    )
    return posted.inventory_item_detail_seq_id


def _reserved(session: Session, item: InventoryItem) -> Decimal:
    """Active reservations on the item."""
    r = OrderItemInventoryReservation
    stmt = select(func.coalesce(func.sum(r.quantity), ZERO)).where(
        r.facility_id == item.facility_id,
        r.status_id == ACTIVE,
        r.inventory_item_id == item.inventory_item_id,
    )
    return session.scalar(stmt) or ZERO


def _already_recorded(
    session: Session, doc: CountDoc, existing: PhysicalInventory, targets: list[_Target]
) -> CountResult:
    """The same count again: answer what was recorded. Different counts under that id: 409.

    A line by product is matched by (product, counted) since the item it was written to is
    chosen when counting; a line by item by (item, counted)."""
    v, i = InventoryItemVariance, InventoryItem
    stored = session.execute(
        select(v, i.product_id)
        .join(i, (i.facility_id == v.facility_id) & (i.inventory_item_id == v.inventory_item_id))
        .where(v.facility_id == doc.facility_id, v.physical_inventory_id == doc.physical_inventory_id)
        .order_by(v.inventory_item_id)
    ).all()
    by_item = {t.item.inventory_item_id for t in targets if not t.by_product}
    asked = {
        (t.item.product_id if t.by_product else t.item.inventory_item_id, t.line.quantity_counted)
        for t in targets
    }
    recorded = {
        (s.inventory_item_id if s.inventory_item_id in by_item else product, s.quantity_counted)
        for s, product in stored
        if s.quantity_counted is not None
    }
    if recorded != asked:
        raise Conflict(
            f"Physical inventory {doc.physical_inventory_id} was already recorded with other counts",
            physicalInventoryId=doc.physical_inventory_id,
        )
    return CountResult(
        physical_inventory_id=existing.physical_inventory_id,
        facility_id=existing.facility_id,
        physical_inventory_date=existing.physical_inventory_date,
        already_recorded=True,
        variances=[
            CountedVariance(
                inventory_item_id=s.inventory_item_id,
                product_id=product,
                quantity_counted=s.quantity_counted,
                quantity_on_hand_var=s.quantity_on_hand_var,
                available_to_promise_var=s.available_to_promise_var,
                variance_reason_id=s.variance_reason_id,
            )
            for s, product in stored
        ],
    )
