"""Return rules without a database: how much of an order item may still come back."""

from dataclasses import dataclass
from decimal import Decimal

from stockledger.core.errors import Conflict


@dataclass(frozen=True, slots=True)
class ShippedLine:
    """What this ledger issued for one order item, and what has come back of it so far."""

    quantity_shipped: Decimal
    quantity_returned: Decimal
    unit_cost: Decimal | None  # the original COGS per unit


def check_returnable(
    order_id: str, order_item_seq_id: str | None, shipped: ShippedLine | None, quantity: Decimal
) -> None:
    """More than was shipped cannot come back. Unknown shipments (none issued here) are not capped."""
    if shipped is None:
        return
    left = shipped.quantity_shipped - shipped.quantity_returned
    if quantity > left:
        raise Conflict(
            f"Order item {order_id}/{order_item_seq_id} shipped {shipped.quantity_shipped} and "
            f"{shipped.quantity_returned} came back already; {quantity} more cannot be returned",
            orderId=order_id,
            orderItemSeqId=order_item_seq_id,
            returnable=left,
            requested=quantity,
        )
