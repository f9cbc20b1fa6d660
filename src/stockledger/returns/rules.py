"""Return rules without a database: how much of an order item may still come back, and in what status."""

import re
from dataclasses import dataclass
from decimal import Decimal

from stockledger.core.errors import Conflict

INV_RETURNED, INV_DEFECTIVE = "INV_RETURNED", "INV_DEFECTIVE"
# receivedCondition values (upper-cased, any run of other characters read as "_") that mean the
# units arrived damaged: they go straight to INV_DEFECTIVE, no inspection pending.
DAMAGED_CONDITIONS = frozenset({"DAMAGED", "RETURNED_DAMAGED", "DEFECTIVE", "INV_DEFECTIVE", "BROKEN"})


class NotShipped(Conflict):
    code, title = "not_shipped", "Not shipped"


class ReturnExceedsShipped(Conflict):
    code, title = "return_exceeds_shipped", "Return exceeds what was shipped"


@dataclass(frozen=True, slots=True)
class ShippedLine:
    """What this ledger issued for one order item (or one product of an order), and what has
    come back of it so far."""

    quantity_shipped: Decimal
    quantity_returned: Decimal
    unit_cost: Decimal | None  # the original COGS per unit


def received_status(received_condition: str | None) -> str:
    """The status returned units start in: INV_DEFECTIVE when they arrived damaged, else
    INV_RETURNED (pending inspection)."""
    if received_condition is None:
        return INV_RETURNED
    normalized = re.sub(r"[^A-Z0-9]+", "_", received_condition.upper()).strip("_")
    return INV_DEFECTIVE if normalized in DAMAGED_CONDITIONS else INV_RETURNED


def check_returnable(
    order_id: str,
    order_item_seq_id: str | None,
    product_id: str,
    shipped: ShippedLine,
    quantity: Decimal,
    *,
    with_quantities: bool = True,
) -> None:
    """Only what was shipped can come back, and no more than was shipped less earlier returns.

    Without `with_quantities` (a token scoped to facilities: the order may have shipped, and
    come back, elsewhere) the refusal says only how much more may come back, not how much
    was shipped or returned."""
    where = {"orderId": order_id, "orderItemSeqId": order_item_seq_id, "productId": product_id}
    what = f"Order item {order_id}/{order_item_seq_id}" if order_item_seq_id else f"Order {order_id}"
    if shipped.quantity_shipped <= 0:
        raise NotShipped(f"{what} never shipped {product_id}; nothing of it can be returned", **where)
    left = shipped.quantity_shipped - shipped.quantity_returned
    if quantity <= left:
        return
    refused = f"{quantity} more cannot be returned"
    if not with_quantities:
        detail, counts = f"{what} may return at most {left} more of {product_id}; {refused}", {}
    else:
        detail = (
            f"{what} shipped {shipped.quantity_shipped} of {product_id} and "
            f"{shipped.quantity_returned} came back already; {refused}"
        )
        counts = {"quantityShipped": shipped.quantity_shipped, "quantityReturned": shipped.quantity_returned}
    raise ReturnExceedsShipped(detail, **where, **counts, returnable=left, requested=quantity)


def atp_moved_off(quantity_on_hand: Decimal, available_to_promise: Decimal, moved: Decimal) -> Decimal:
    """ATP to take off a returned item whose `moved` units go to sellable stock: whatever would
    leave its ATP above the QOH left (a count may have given it ATP: counted − reserved)."""
    return max(available_to_promise - (quantity_on_hand - moved), Decimal(0))


def inspected_quantity(return_quantity: Decimal, quantity_on_hand: Decimal) -> Decimal:
    """The units an inspection acts on: the line's, as far as its returned item still holds them
    (a count may have found fewer, or none); never below zero."""
    return max(min(return_quantity, quantity_on_hand), Decimal(0))
