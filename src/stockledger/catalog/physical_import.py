"""Import of a seed PhysicalInventory document (seed 002): the count's header, its variances and
one ledger row per variance, keyed by (physicalInventoryId, inventoryItemId) so that loading it
again writes nothing. Who recorded it (header, variances, ledger rows): the acting user (core.actor),
else the document's partyId.
"""

from sqlalchemy.orm import Session

from stockledger.catalog.import_rows import ImportOutcome, fields, merge, record_imported
from stockledger.catalog.schemas import PhysicalInventoryDoc
from stockledger.catalog.service import find_inventory_item
from stockledger.core.actor import acting_user
from stockledger.core.errors import ValidationFailed
from stockledger.core.model_base import utcnow
from stockledger.ledger.models import InventoryItem, InventoryItemVariance, PhysicalInventory, VarianceReason
from stockledger.ledger.post import Links, Posting, post


def import_physical_inventory(session: Session, doc: PhysicalInventoryDoc) -> ImportOutcome:
    outcome = ImportOutcome("physicalInventory")
    when = doc.physical_inventory_date or utcnow()
    header = fields(doc, "inventory_item_variances")
    header.setdefault("physical_inventory_date", when)
    who = acting_user(session) or doc.party_id
    for variance in doc.inventory_item_variances:
        item = _item_anywhere(session, variance.inventory_item_id)
        _require_reason(session, variance.variance_reason_id)
        merge(
            session,
            PhysicalInventory,
            {"facility_id": item.facility_id, **header},
            ["facility_id", "physical_inventory_id"],
            {"change_by_user_login_id": who},
        )
        key = (item.facility_id, item.inventory_item_id, doc.physical_inventory_id)
        outcome.counts["inventoryItemVariances"] += 1
        if session.get(InventoryItemVariance, key) is not None:
            continue
        session.add(
            InventoryItemVariance(
                facility_id=item.facility_id,
                physical_inventory_id=doc.physical_inventory_id,
                **fields(variance, "physical_inventory_id"),
                change_by_user_login_id=who,
            )
        )
        session.flush()
        post(
            session,
            Posting(
                facility_id=item.facility_id,
                inventory_item_id=item.inventory_item_id,
                reason_enum_id=variance.variance_reason_id or "VAR_INTEGR",
                quantity_on_hand_diff=variance.quantity_on_hand_var,
                available_to_promise_diff=variance.available_to_promise_var,
                effective_date=when,
                links=Links(
                    physical_inventory_id=doc.physical_inventory_id,
                    change_by_user_login_id=who,
                    description=variance.comments,
                ),
            ),
        )
        outcome.ledger_rows_written += 1
        record_imported(session, item.facility_id, item.product_id, item.inventory_item_id)
    outcome.counts["physicalInventories"] = 1
    return outcome


def _item_anywhere(session: Session, inventory_item_id: str) -> InventoryItem:
    item = find_inventory_item(session, inventory_item_id)
    if item is None:
        raise ValidationFailed(
            f"Variance names unknown inventory item {inventory_item_id}",
            inventoryItemId=inventory_item_id,
        )
    return item


def _require_reason(session: Session, reason_id: str | None) -> None:
    if reason_id is not None and session.get(VarianceReason, reason_id) is None:
        raise ValidationFailed(f"Unknown variance reason {reason_id}", varianceReasonId=reason_id)
