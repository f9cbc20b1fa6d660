"""Inspection of a returned line: AVAILABLE puts its units on sale, DEFECTIVE keeps them off it.

AVAILABLE moves the units to the facility's sellable item (findOrCreateFacilityInventoryItem)
with a pair of detail rows, QOH − n on the returned item and QOH + n, ATP + n on the facility
item, so the one item per product and facility that HotWax reads carries them, and they re-enter
a cost layer at their return cost; the return item then names the item its units are in
(INV_AVAILABLE). Any ATP the returned item held for those units (a count by item gives it
counted − reserved) leaves with them: its ATP never stays above its QOH. DEFECTIVE marks the
returned item INV_DEFECTIVE: the units stay on hand, never available. Either way the return item
is RETURN_COMPLETED, and so is the return once none of its items waits for inspection. The
header is locked first, so concurrent inspections of one return queue and the last one completes it.

Inspection acts on what the returned item still holds, at most the line's quantity: a count may
have found fewer units in it, or none (counted as lost). Then only those move (or are marked
defective); an item that holds nothing completes the line with nothing moved, the line still
naming the returned item. The answer says how many units the inspection acted on.
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import promisable_facility_item
from stockledger.core.actor import acting_user
from stockledger.core.errors import Conflict, NotFound
from stockledger.costing.service import add_layer
from stockledger.events.outbox import record_event
from stockledger.ledger.items import lock_items_in_id_order
from stockledger.ledger.models import InventoryItem, ReturnHeader, ReturnItem
from stockledger.ledger.post import Posting, post
from stockledger.returns.rules import INV_DEFECTIVE, atp_moved_off, inspected_quantity
from stockledger.returns.service import (
    COMPLETED,
    RECEIVED,
    RETURN_ITEM,
    ReturnView,
    complete_if_done,
    get_return,
    links,
    require_header,
)

RESTOCK_REASON = "RETURN_RESTOCKED"  # the pair that moves inspected units to sellable stock


@dataclass(frozen=True, slots=True)
class Inspection:
    view: ReturnView
    inspected_quantity: Decimal  # the units acted on: min(line quantity, returned item's QOH), ≥ 0


def inspect_return_item(
    session: Session, return_id: str, return_item_seq_id: str, outcome: str
) -> Inspection:
    """AVAILABLE: units to sellable stock (ATP + n) at their return cost; DEFECTIVE: INV_DEFECTIVE.
    n is what the returned item still holds of the line's quantity (0 when a count found none)."""
    header = require_header(session, return_id, lock=True)
    line = session.get(ReturnItem, (header.facility_id, return_id, return_item_seq_id))
    if line is None or line.inventory_item_id is None:
        raise NotFound(
            f"Return item {return_id}/{return_item_seq_id} not found", returnItemSeqId=return_item_seq_id
        )
    _claim_inspection(session, line)
    returned = session.get(InventoryItem, (header.facility_id, line.inventory_item_id))
    assert returned is not None  # created with the return item, never deleted
    # Sellable means promisable (SPEC §11): a held or expired facility item gives way to the
    # oldest promisable one, else a new one, as stock added by productId does.
    facility_item = (
        promisable_facility_item(session, header.facility_id, line.product_id)
        if outcome == "AVAILABLE"
        else None
    )
    locked = [returned.inventory_item_id] + ([facility_item.inventory_item_id] if facility_item else [])
    # the items inspected (both of a move), locked in id order before the returned one's totals are read
    lock_items_in_id_order(session, header.facility_id, InventoryItem.inventory_item_id.in_(locked))
    session.refresh(returned, ["quantity_on_hand_total", "available_to_promise_total"])
    n = inspected_quantity(line.return_quantity, returned.quantity_on_hand_total)
    touched = [returned.inventory_item_id]
    if facility_item is not None and n > 0:
        touched.append(_restock(session, header, line, returned, facility_item, n))
    elif facility_item is None:
        returned.status_id = INV_DEFECTIVE
        session.flush()
    complete_if_done(session, header.facility_id, return_id)
    record_event(
        session,
        header.facility_id,
        "InventoryChanged",
        {
            "facilityId": header.facility_id,
            "productId": line.product_id,
            "returnId": return_id,
            "returnItemSeqId": return_item_seq_id,
            "orderId": header.order_id,
            "orderItemSeqId": line.order_item_seq_id,
            "inspectionOutcome": outcome,
            "inventoryItemIds": touched,
            "returnQuantity": line.return_quantity,
            "quantity": n,
            "availableToPromiseDiff": n if outcome == "AVAILABLE" else 0,
        },
    )
    return Inspection(get_return(session, return_id), n)


def _claim_inspection(session: Session, line: ReturnItem) -> None:
    """Only one inspection per return item: the database decides between concurrent ones."""
    claimed = session.execute(
        update(RETURN_ITEM)
        .where(
            RETURN_ITEM.c.facility_id == line.facility_id,
            RETURN_ITEM.c.return_id == line.return_id,
            RETURN_ITEM.c.return_item_seq_id == line.return_item_seq_id,
            RETURN_ITEM.c.status_id == RECEIVED,
        )
        .values(status_id=COMPLETED, change_by_user_login_id=acting_user(session))
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"Return item {line.return_id}/{line.return_item_seq_id} was inspected already "
            "(or came back damaged): it is RETURN_COMPLETED",
            returnId=line.return_id,
            returnItemSeqId=line.return_item_seq_id,
        )


def _restock(
    session: Session,
    header: ReturnHeader,
    line: ReturnItem,
    returned: InventoryItem,
    facility_item: InventoryItem,
    n: Decimal,
) -> str:
    """Move n units to the facility item (both locked); the return item then names it. Its id."""
    moved = links(header.order_id, line.order_item_seq_id, header.return_id, line.return_item_seq_id)
    atp_off = atp_moved_off(returned.quantity_on_hand_total, returned.available_to_promise_total, n)
    moves = [
        Posting(
            header.facility_id,
            returned.inventory_item_id,
            RESTOCK_REASON,
            quantity_on_hand_diff=-n,
            available_to_promise_diff=-atp_off,
            links=moved,
        ),
        Posting(
            header.facility_id,
            facility_item.inventory_item_id,
            RESTOCK_REASON,
            quantity_on_hand_diff=n,
            available_to_promise_diff=n,
            links=moved,
        ),
    ]
    for move in sorted(moves, key=lambda p: p.inventory_item_id):  # lock order
        post(session, move)
    if line.return_cost is not None:
        add_layer(
            session, header.facility_id, line.product_id, facility_item.inventory_item_id, n, line.return_cost
        )
    line.inventory_item_id = facility_item.inventory_item_id
    session.flush()
    return facility_item.inventory_item_id
