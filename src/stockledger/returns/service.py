"""processReturn and inspection: returned units wait in INV_RETURNED until inspected.

Receiving a return puts the units in a new InventoryItem of their own, status INV_RETURNED:
QOH + n, ATP unchanged (nobody can promise them; reservations use INV_AVAILABLE stock only).
Inspection AVAILABLE moves them to the facility's sellable item (findOrCreateFacilityInventoryItem)
with a pair of detail rows, QOH − n on the returned item and QOH + n, ATP + n on the facility
item, so the one item per product and facility that HotWax reads carries them, and they re-enter
a cost layer at their return cost. Inspection DEFECTIVE marks the returned item INV_DEFECTIVE:
the units stay on hand, never available. Return cost is the original COGS per unit of the
order item (its ItemIssuance rows, in any facility), when it shipped through this ledger.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import (
    find_or_create_facility_inventory_item,
    require_facility,
    require_product,
)
from stockledger.core.errors import Conflict, NotFound
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_facility
from stockledger.costing.rules import average_unit_cost
from stockledger.costing.service import add_layer
from stockledger.events.outbox import record_event
from stockledger.ledger.models import InventoryItem, ItemIssuance, ReturnHeader, ReturnItem
from stockledger.ledger.post import Links, Posting, post
from stockledger.orders.items import claim_order_items, products_of
from stockledger.returns.rules import ShippedLine, check_returnable
from stockledger.returns.schemas import ReturnIn, ReturnItemIn

RETURN_ITEM = cast(Table, ReturnItem.__table__)
RETURNED, DEFECTIVE, AVAILABLE = "INV_RETURNED", "INV_DEFECTIVE", "INV_AVAILABLE"
RECEIVED, COMPLETED = "RETURN_RECEIVED", "RETURN_COMPLETED"
RECEIVED_REASON = "RETURN_RECEIVED"  # QOH + n into the returned item
RESTOCK_REASON = "RETURN_RESTOCKED"  # the pair that moves inspected units to sellable stock


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
    """Receive returned units into INV_RETURNED items: QOH + n, ATP unchanged."""
    require_facility(session, ret.facility_id)
    for product_id in sorted({i.product_id for i in ret.items}):
        require_product(session, product_id)
    if _find_header(session, ret.return_id) is not None:
        raise Conflict(f"Return {ret.return_id} already exists", returnId=ret.return_id)
    order_items = [
        (ret.order_id, i.order_item_seq_id, i.product_id) for i in ret.items if i.order_item_seq_id
    ]
    claim_order_items(session, ret.facility_id, products_of(order_items))
    session.add(ReturnHeader(facility_id=ret.facility_id, return_id=ret.return_id, order_id=ret.order_id))
    session.flush()
    received = [_receive_item(session, ret, line) for line in ret.items]
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


def inspect_return_item(
    session: Session, return_id: str, return_item_seq_id: str, outcome: str
) -> ReturnView:
    """AVAILABLE: units to sellable stock (ATP + n) at their return cost; DEFECTIVE: INV_DEFECTIVE."""
    header = _require_header(session, return_id)
    line = session.get(ReturnItem, (header.facility_id, return_id, return_item_seq_id))
    if line is None or line.inventory_item_id is None:
        raise NotFound(
            f"Return item {return_id}/{return_item_seq_id} not found", returnItemSeqId=return_item_seq_id
        )
    _claim_inspection(session, line)
    returned = session.get(InventoryItem, (header.facility_id, line.inventory_item_id))
    assert returned is not None  # created with the return item, never deleted
    if outcome == "AVAILABLE":
        _restock(session, header, line, returned)
    else:
        returned.status_id = DEFECTIVE
        session.flush()
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
            "inventoryItemIds": _touched(session, header.facility_id, line, outcome),
            "quantity": line.return_quantity,
            "availableToPromiseDiff": line.return_quantity if outcome == "AVAILABLE" else 0,
        },
    )
    return get_return(session, return_id)


def get_return(session: Session, return_id: str) -> ReturnView:
    """The return with its items and the status of the inventory each item came back into."""
    header = _require_header(session, return_id)
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
    shipped = _shipped_line(session, ret.order_id, line.order_item_seq_id, line.product_id)
    check_returnable(ret.order_id, line.order_item_seq_id, shipped, line.return_quantity)
    item_id = new_id("II")
    session.add(
        InventoryItem(
            facility_id=facility_id,
            inventory_item_id=item_id,
            product_id=line.product_id,
            status_id=RETURNED,
            datetime_received=utcnow(),
            unit_cost=shipped.unit_cost if shipped else None,
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
            status_id=RECEIVED,
            return_cost=shipped.unit_cost if shipped else None,
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
            links=_links(ret.order_id, line.order_item_seq_id, ret.return_id, line.return_item_seq_id),
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
        RETURNED,
        RECEIVED,
        shipped.unit_cost if shipped else None,
    )


def _shipped_line(
    session: Session, order_id: str, order_item_seq_id: str | None, product_id: str
) -> ShippedLine | None:
    """Issued (quantity, COGS) for the order item's product, in any facility; None if none."""
    if order_item_seq_id is None:
        return None
    ii, i = ItemIssuance, InventoryItem
    quantity, cogs = session.execute(
        select(func.sum(ii.quantity), func.sum(ii.cogs))
        .join(i, (i.facility_id == ii.facility_id) & (i.inventory_item_id == ii.inventory_item_id))
        .where(ii.order_id == order_id, ii.order_item_seq_id == order_item_seq_id, i.product_id == product_id)
    ).one()
    if not quantity:
        return None
    r, h = ReturnItem, ReturnHeader
    returned = session.scalar(
        select(func.coalesce(func.sum(r.return_quantity), 0))
        .join(h, (h.facility_id == r.facility_id) & (h.return_id == r.return_id))
        .where(h.order_id == order_id, r.order_item_seq_id == order_item_seq_id, r.product_id == product_id)
    )
    unit_cost = average_unit_cost([(quantity, cogs)]) if cogs is not None else None
    return ShippedLine(quantity, returned or Decimal(0), unit_cost)


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
        .values(status_id=COMPLETED)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"Return item {line.return_id}/{line.return_item_seq_id} was inspected already",
            returnId=line.return_id,
            returnItemSeqId=line.return_item_seq_id,
        )


def _restock(session: Session, header: ReturnHeader, line: ReturnItem, returned: InventoryItem) -> None:
    facility_item = find_or_create_facility_inventory_item(session, header.facility_id, line.product_id)
    links = _links(header.order_id, line.order_item_seq_id, header.return_id, line.return_item_seq_id)
    n = line.return_quantity
    moves = [
        Posting(
            header.facility_id,
            returned.inventory_item_id,
            RESTOCK_REASON,
            quantity_on_hand_diff=-n,
            links=links,
        ),
        Posting(
            header.facility_id,
            facility_item.inventory_item_id,
            RESTOCK_REASON,
            quantity_on_hand_diff=n,
            available_to_promise_diff=n,
            links=links,
        ),
    ]
    for move in sorted(moves, key=lambda p: p.inventory_item_id):  # lock order
        post(session, move)
    if line.return_cost is not None:
        add_layer(
            session, header.facility_id, line.product_id, facility_item.inventory_item_id, n, line.return_cost
        )


def _touched(session: Session, facility_id: str, line: ReturnItem, outcome: str) -> list[str]:
    ids = [cast(str, line.inventory_item_id)]
    if outcome == "AVAILABLE":
        ids.append(
            find_or_create_facility_inventory_item(session, facility_id, line.product_id).inventory_item_id
        )
    return ids


def _links(
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
    ).first()


def _require_header(session: Session, return_id: str) -> ReturnHeader:
    header = _find_header(session, return_id)
    if header is None:
        raise NotFound(f"Return {return_id} not found", returnId=return_id)
    check_facility(session, header.facility_id)
    return header
