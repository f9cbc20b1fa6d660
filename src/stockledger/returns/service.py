"""processReturn: returned units come back into an item of their own, status by receivedCondition.

Receiving a return puts the units in a new InventoryItem of their own: QOH + n, ATP unchanged
(nobody can promise them; reservations use INV_AVAILABLE stock only). Its status is
INV_RETURNED, pending inspection (returns/inspection.py), or INV_DEFECTIVE when
`receivedCondition` says the units arrived damaged (returns/rules.py); a damaged line needs no
inspection and is RETURN_COMPLETED at once. Only what the order shipped through this ledger
can come back, and no more than it shipped less earlier returns (returns/shipped.py): 409
`not_shipped` or `return_exceeds_shipped`. Return cost is the original COGS per unit of the
order item (its ItemIssuance rows, in any facility).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import (
    find_or_create_facility_inventory_item,
    require_facility,
    require_product,
)
from stockledger.core.errors import Conflict, NotFound
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_owner
from stockledger.events.outbox import record_event
from stockledger.ledger.models import InventoryItem, ReturnHeader, ReturnItem
from stockledger.ledger.post import Links, Posting, post
from stockledger.orders.items import claim_order_items, products_of
from stockledger.returns.rules import INV_DEFECTIVE, received_status
from stockledger.returns.schemas import ReturnIn, ReturnItemIn
from stockledger.returns.shipped import check_and_cost, lock_issued

RETURN_ITEM = cast(Table, ReturnItem.__table__)
RETURN_HEADER = cast(Table, ReturnHeader.__table__)
RECEIVED, COMPLETED = "RETURN_RECEIVED", "RETURN_COMPLETED"
RECEIVED_REASON = "RETURN_RECEIVED"  # QOH + n into the returned item


@dataclass(frozen=True, slots=True)
class ReturnView:
    return_id: str
    order_id: str | None
    facility_id: str
    status_id: str
    items: list["ReturnItemView"]


@dataclass(frozen=True, slots=True)
class ReturnItemView:
    return_item_seq_id: str
    order_item_seq_id: str | None
    product_id: str
    return_quantity: Decimal
    return_reason_id: str | None
    received_condition: str | None
    inventory_item_id: str | None
    inventory_item_status_id: str | None
    status_id: str
    return_cost: Decimal | None


def process_return(session: Session, ret: ReturnIn) -> ReturnView:
    """Receive returned units into items of their own (INV_RETURNED, or INV_DEFECTIVE when they
    arrived damaged): QOH + n, ATP unchanged. 409 for what the order never shipped or more."""
    require_facility(session, ret.facility_id)
    for product_id in sorted({i.product_id for i in ret.items}):
        require_product(session, product_id)
    existing = _find_header(session, ret.return_id)
    if existing is not None:
        check_owner(session, existing.facility_id, f"return {ret.return_id}", returnId=ret.return_id)
        raise Conflict(f"Return {ret.return_id} already exists", returnId=ret.return_id)
    lock_issued(session, ret.order_id, {i.product_id for i in ret.items})
    order_items = [
        (ret.order_id, i.order_item_seq_id, i.product_id) for i in ret.items if i.order_item_seq_id
    ]
    claim_order_items(session, ret.facility_id, products_of(order_items))
    session.add(ReturnHeader(facility_id=ret.facility_id, return_id=ret.return_id, order_id=ret.order_id))
    session.flush()
    received = [_receive_item(session, ret, line) for line in ret.items]
    complete_if_done(session, ret.facility_id, ret.return_id)
    record_event(
        session,
        ret.facility_id,
        "ReturnReceived",
        {
            "facilityId": ret.facility_id,
            "returnId": ret.return_id,
            "orderId": ret.order_id,
            "items": [_item_payload(i) for i in received],
            "inventoryItemIds": [i.inventory_item_id for i in received],
        },
    )
    return get_return(session, ret.return_id)


def get_return(session: Session, return_id: str) -> ReturnView:
    """The return with its items and the status of the inventory each item came back into."""
    header = require_header(session, return_id)
    r, i = ReturnItem, InventoryItem
    rows = session.execute(
        select(r, i.status_id)
        .outerjoin(i, (i.facility_id == r.facility_id) & (i.inventory_item_id == r.inventory_item_id))
        .where(r.facility_id == header.facility_id, r.return_id == return_id)
        .order_by(r.return_item_seq_id),
        execution_options={"populate_existing": True},
    ).all()
    items = [
        ReturnItemView(
            row.return_item_seq_id,
            row.order_item_seq_id,
            row.product_id,
            row.return_quantity,
            row.return_reason_id,
            row.received_condition,
            row.inventory_item_id,
            status,
            row.status_id,
            row.return_cost,
        )
        for row, status in rows
    ]
    return ReturnView(header.return_id, header.order_id, header.facility_id, header.status_id, items)


def _receive_item(session: Session, ret: ReturnIn, line: ReturnItemIn) -> ReturnItemView:
    facility_id = ret.facility_id
    # The facility's own item first, so a product new here never gets the returned item as its
    # ProductFacility item.
    facility_item = find_or_create_facility_inventory_item(session, facility_id, line.product_id)
    cost = check_and_cost(
        session, ret.order_id, line.order_item_seq_id, line.product_id, line.return_quantity
    )
    status = received_status(line.received_condition)
    item_id = new_id("II")
    session.add(
        InventoryItem(
            facility_id=facility_id,
            inventory_item_id=item_id,
            product_id=line.product_id,
            status_id=status,
            datetime_received=utcnow(),
            unit_cost=cost,
            currency_uom_id=facility_item.currency_uom_id,
        )
    )
    session.add(
        ReturnItem(
            facility_id=facility_id,
            return_id=ret.return_id,
            return_item_seq_id=line.return_item_seq_id,
            order_item_seq_id=line.order_item_seq_id,
            product_id=line.product_id,
            return_quantity=line.return_quantity,
            return_reason_id=line.return_reason_id,
            received_condition=line.received_condition,
            inventory_item_id=item_id,
            status_id=COMPLETED if status == INV_DEFECTIVE else RECEIVED,
            return_cost=cost,
        )
    )
    session.flush()
    post(
        session,
        Posting(
            facility_id,
            item_id,
            RECEIVED_REASON,
            quantity_on_hand_diff=line.return_quantity,
            links=links(ret.order_id, line.order_item_seq_id, ret.return_id, line.return_item_seq_id),
        ),
    )
    return ReturnItemView(
        line.return_item_seq_id,
        line.order_item_seq_id,
        line.product_id,
        line.return_quantity,
        line.return_reason_id,
        line.received_condition,
        item_id,
        status,
        COMPLETED if status == INV_DEFECTIVE else RECEIVED,
        cost,
    )


def complete_if_done(session: Session, facility_id: str, return_id: str) -> None:
    """The header becomes RETURN_COMPLETED once none of its items waits for inspection."""
    r = RETURN_ITEM
    pending = select(r.c.return_item_seq_id).where(
        r.c.facility_id == facility_id, r.c.return_id == return_id, r.c.status_id != COMPLETED
    )
    session.execute(
        update(RETURN_HEADER)
        .where(RETURN_HEADER.c.facility_id == facility_id, RETURN_HEADER.c.return_id == return_id)
        .where(~pending.exists())
        .values(status_id=COMPLETED)
    )


def links(
    order_id: str | None, order_item_seq_id: str | None, return_id: str, return_item_seq_id: str
) -> Links:
    return Links(
        order_id=order_id,
        order_item_seq_id=order_item_seq_id,
        return_id=return_id,
        return_item_seq_id=return_item_seq_id,
    )


def _item_payload(i: ReturnItemView) -> dict[str, object]:
    return {
        "returnItemSeqId": i.return_item_seq_id,
        "orderItemSeqId": i.order_item_seq_id,
        "productId": i.product_id,
        "inventoryItemId": i.inventory_item_id,
        "statusId": i.inventory_item_status_id,
        "returnQuantity": i.return_quantity,
        "quantityOnHandDiff": i.return_quantity,
        "availableToPromiseDiff": 0,
        "returnCost": i.return_cost,
    }


def _find_header(session: Session, return_id: str) -> ReturnHeader | None:
    return session.scalars(
        select(ReturnHeader)
        .where(ReturnHeader.return_id == return_id)
        .order_by(ReturnHeader.facility_id)
        .limit(1)
        .execution_options(populate_existing=True)  # the status may have moved in a Core UPDATE
    ).first()


def require_header(session: Session, return_id: str, lock: bool = False) -> ReturnHeader:
    """The return's header (404 when unknown, 403 outside the token's facilities); `lock`: FOR UPDATE."""
    header = _find_header(session, return_id)
    if header is None:
        raise NotFound(f"Return {return_id} not found", returnId=return_id)
    check_owner(session, header.facility_id, f"return {return_id}", returnId=return_id)
    if lock:
        session.refresh(header, with_for_update=True)
    return header
