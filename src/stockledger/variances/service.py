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
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.core.quantities import json_number
from stockledger.core.scope import check_owner
from stockledger.counts.sellable import lock_product_items, sellable_levels
from stockledger.events.outbox import record_event
from stockledger.ledger.items import find_inventory_item
from stockledger.ledger.models import InventoryItem, VarianceReason
from stockledger.ledger.post import Links, Posting, post
from stockledger.variances.schemas import VarianceIn, VarianceItemOut, VarianceOut


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
    if variance.inventory_item_id is None and variance.quantity < 0:
        takes = _removal_by_product(session, item, -variance.quantity, variance.allow_negative)
    else:
        takes = {item.inventory_item_id: variance.quantity}
    postings = [  # in item id order: the lock order of several postings
        Posting(
            item.facility_id,
            item_id,
            variance.variance_reason_id,
            quantity_on_hand_diff=quantity,
            available_to_promise_diff=quantity,
            links=Links(change_by_user_login_id=user, description=variance.comments),
            require_qoh=not variance.allow_negative,
        )
        for item_id, quantity in sorted(takes.items())
    ]
    try:
        posted = post(session, postings)
    except NegativeStock as refused:  # the flag that would have let it through
        raise _refusal(variance, refused) from refused
    lines = [
        VarianceItemOut(
            inventory_item_id=one.inventory_item_id,
            inventory_item_detail_seq_id=done.inventory_item_detail_seq_id,
            quantity=one.quantity_on_hand_diff,
            quantity_on_hand_total=done.quantity_on_hand_total,
            available_to_promise_total=done.available_to_promise_total,
        )
        for one, done in zip(postings, posted, strict=True)
    ]
    taken = {item_id: n for n, item_id in enumerate(takes)}
    lines.sort(key=lambda line: taken[line.inventory_item_id])  # in the order taken
    first = lines[0]
    out = VarianceOut(
        facility_id=item.facility_id,
        product_id=item.product_id,
        inventory_item_id=first.inventory_item_id,
        inventory_item_detail_seq_id=first.inventory_item_detail_seq_id,
        variance_reason_id=variance.variance_reason_id,
        quantity=variance.quantity,
        quantity_on_hand_total=first.quantity_on_hand_total,
        available_to_promise_total=first.available_to_promise_total,
        change_by_user_login_id=user,
        items=lines,
    )
    for line in lines:  # one event per item changed, as for any posting
        record_event(session, item.facility_id, "InventoryChanged", _payload(out, line))
    return out


def _removal_by_product(
    session: Session, facility_item: InventoryItem, quantity: Decimal, allow_negative: bool
) -> dict[str, Decimal]:
    """Where a removal by productId comes from (SPEC §11: sellable means promisable): the product's
    promisable stock as a whole, free ATP first (units no reservation holds), oldest item first,
    then reserved units, oldest first; so no item's ATP goes below its reservations while another
    has free units. Refused (negative_stock) when the promisable QOH does not cover it, unless
    `allowNegative`: then the rest goes to the facility item, as before. Item id → diff (< 0)."""
    now = utcnow()
    facility_id, product_id = facility_item.facility_id, facility_item.product_id
    # Locked first, so the levels are read as a concurrent removal left them (two at once: each
    # read the same free units, and the second was refused on one item's rest: an outside
    # tester, PostgreSQL).
    lock_product_items(session, facility_id, {product_id})
    levels = sellable_levels(session, facility_id, product_id, now)  # promisable at `now` only
    takes: dict[str, Decimal] = {}
    left = quantity
    for free_first in (True, False):
        for level in levels:
            has = level.quantity_on_hand + takes.get(level.inventory_item_id, ZERO)
            if free_first:
                has = min(has, level.available_to_promise)
            take = min(left, max(has, ZERO))
            if take > 0:
                takes[level.inventory_item_id] = takes.get(level.inventory_item_id, ZERO) - take
                left -= take
    if left > 0:
        if not allow_negative:
            on_hand = sum((level.quantity_on_hand for level in levels), ZERO)
            raise NegativeStock(
                f"Product {product_id} has {on_hand} sellable on hand in facility {facility_id}: "
                f"removing {quantity} would take it below zero",
                facilityId=facility_id,
                productId=product_id,
                quantityOnHandTotal=on_hand,
                quantityOnHandDiff=-quantity,
                retryWith="allowNegative",
            )
        item_id = facility_item.inventory_item_id
        takes[item_id] = takes.get(item_id, ZERO) - left
    return takes


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


def _payload(out: VarianceOut, line: VarianceItemOut) -> dict[str, object]:
    return {
        "facilityId": out.facility_id,
        "productId": out.product_id,
        "inventoryItemId": line.inventory_item_id,
        "inventoryItemDetailSeqId": line.inventory_item_detail_seq_id,
        "reasonEnumId": out.variance_reason_id,
        "changeByUserLoginId": out.change_by_user_login_id,
        "quantityOnHandDiff": line.quantity,
        "availableToPromiseDiff": line.quantity,
        "quantityOnHandTotal": line.quantity_on_hand_total,
        "availableToPromiseTotal": line.available_to_promise_total,
    }
