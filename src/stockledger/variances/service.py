"""logVariance: ± an amount on both QOH and ATP of one item, with a reason and the acting user.

A variance that would take the item's QOH below zero is refused (409 `negative_stock`, nothing
written) unless it says `allowNegative: true`. The check is part of the ledger's guarded UPDATE
(`Posting.require_qoh`), so two concurrent variances cannot both pass it on a stale read.
Cycle counts (counts/) and imported PhysicalInventory documents post their variances without
this guard: a count sets QOH to what was counted, and a document records what already happened.
"""

from decimal import Decimal

from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import promisable_facility_item
from stockledger.core.actor import acting_user
from stockledger.core.errors import NegativeStock, NotFound, ValidationFailed
from stockledger.core.quantities import json_number
from stockledger.core.scope import check_owner
from stockledger.events.outbox import record_event
from stockledger.ledger.items import find_inventory_item
from stockledger.ledger.models import InventoryItem, VarianceReason
from stockledger.ledger.post import Links, Posting, post
from stockledger.variances.schemas import VarianceIn, VarianceOut


def log_variance(session: Session, variance: VarianceIn) -> VarianceOut:
    """Post the variance to the item (by id, or the product's facility item) and record its event.

    Who logged it is the session's user (core.actor); `changeByUserLoginId` in the body only
    for a session that acts for nobody."""
    if session.get(VarianceReason, variance.variance_reason_id) is None:
        raise NotFound(
            f"Unknown variance reason {variance.variance_reason_id}",
            varianceReasonId=variance.variance_reason_id,
        )
    item = _item(session, variance)
    user = acting_user(session) or variance.change_by_user_login_id
    posting = Posting(
        item.facility_id,
        item.inventory_item_id,
        variance.variance_reason_id,
        quantity_on_hand_diff=variance.quantity,
        available_to_promise_diff=variance.quantity,
        links=Links(change_by_user_login_id=user, description=variance.comments),
        require_qoh=not variance.allow_negative,
    )
    try:
        posted = post(session, posting)
    except NegativeStock as refused:  # the flag that would have let it through
        raise _refusal(variance, refused) from refused
    out = VarianceOut(
        facility_id=item.facility_id,
        product_id=item.product_id,
        inventory_item_id=item.inventory_item_id,
        inventory_item_detail_seq_id=posted.inventory_item_detail_seq_id,
        variance_reason_id=variance.variance_reason_id,
        quantity=variance.quantity,
        quantity_on_hand_total=posted.quantity_on_hand_total,
        available_to_promise_total=posted.available_to_promise_total,
        change_by_user_login_id=user,
    )
    record_event(session, item.facility_id, "InventoryChanged", _payload(out, variance.quantity))
    return out


def _item(session: Session, variance: VarianceIn) -> InventoryItem:
    if variance.inventory_item_id is None:
        if variance.facility_id is None or variance.product_id is None:
            raise ValidationFailed("Give inventoryItemId, or facilityId and productId")
        return promisable_facility_item(session, variance.facility_id, variance.product_id)
    item = find_inventory_item(session, variance.inventory_item_id, variance.facility_id)
    if item is None:
        raise NotFound(
            f"Inventory item {variance.inventory_item_id} not found",
            inventoryItemId=variance.inventory_item_id,
        )
    what = f"inventory item {item.inventory_item_id}"
    check_owner(session, item.facility_id, what, inventoryItemId=item.inventory_item_id)
    return item


def _refusal(variance: VarianceIn, refused: NegativeStock) -> NegativeStock:
    """The guard's refusal, with `allowNegative` to retry with. A variance by productId names the
    product, not the item: that item may be one this request created (the product's only items
    held or expired), rolled back with the refusal, so its id would name nothing (an outside
    tester, session 11: a GET of it was 404)."""
    if variance.inventory_item_id is not None:
        return NegativeStock(refused.detail, **refused.extra, retryWith="allowNegative")
    extra = {k: v for k, v in refused.extra.items() if k != "inventoryItemId"}
    qoh = json_number(Decimal(extra["quantityOnHandTotal"]))
    diff = json_number(Decimal(extra["quantityOnHandDiff"]))
    return NegativeStock(
        f"The sellable facility item of product {variance.product_id} in facility "
        f"{variance.facility_id} has {qoh} on hand; {diff} would take it below zero",
        productId=variance.product_id,
        facilityId=variance.facility_id,
        **extra,
        retryWith="allowNegative",
    )


def _payload(out: VarianceOut, quantity: Decimal) -> dict[str, object]:
    return {
        "facilityId": out.facility_id,
        "productId": out.product_id,
        "inventoryItemId": out.inventory_item_id,
        "inventoryItemDetailSeqId": out.inventory_item_detail_seq_id,
        "reasonEnumId": out.variance_reason_id,
        "changeByUserLoginId": out.change_by_user_login_id,
        "quantityOnHandDiff": quantity,
        "availableToPromiseDiff": quantity,
        "quantityOnHandTotal": out.quantity_on_hand_total,
        "availableToPromiseTotal": out.available_to_promise_total,
    }
