"""Planning the lines of an order on the locked candidates, capped by the net promisable ATP.

Availability reports a product's promisable ATP as the NET sum over its promisable items: an
item whose ATP is negative (a backorder, an allowNegative variance, an ATP_ALL rejection) is
stock owed and lowers it. FEFO takes only from items with positive ATP, so each line is also
capped by that net, computed on the same locked rows (every INV_AVAILABLE item of the product,
negative ones included): no new reservation ever takes more than availability reports.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from stockledger.core.errors import InsufficientStock
from stockledger.core.fixed import ZERO
from stockledger.reservations.lines import LineOutcome, ReservedFrom, ReserveLine
from stockledger.reservations.rules import Allocation, Candidate, allocate, usable


class PlannedLine(Protocol):
    @property
    def product_id(self) -> str: ...
    @property
    def lot_id(self) -> str | None: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def allow_expired(self) -> bool: ...


def plan_lines(
    candidates: dict[str, list[Candidate]], lines: Sequence[PlannedLine], now: datetime
) -> list[Allocation]:
    """FEFO over each line's candidates (its lot if given, expired lots only when allowed), never
    more than the product's net promisable ATP left by the order's earlier lines."""
    remaining = {c.inventory_item_id: c.available_to_promise for cs in candidates.values() for c in cs}
    plans = []
    for line in lines:
        usable_items = [c for c in candidates.get(line.product_id, []) if usable(c, now, line.allow_expired)]
        net = net_promisable(usable_items, remaining)
        fit = [c for c in usable_items if line.lot_id in (None, c.lot_id)]
        plans.append(allocate(fit, remaining, line.quantity, limit=net))
    return plans


def net_promisable(items: Sequence[Candidate], remaining: dict[str, Decimal]) -> Decimal:
    """Σ ATP left on the items, negative ones included: what availability reports for them."""
    return sum((remaining[c.inventory_item_id] for c in items), ZERO)


def refuse_short_lines(lines: Sequence[ReserveLine], plans: Sequence[Allocation]) -> None:
    short = [
        {
            "orderItemSeqId": line.order_item_seq_id,
            "productId": line.product_id,
            "lotId": line.lot_id,
            "requested": line.quantity,
            "available": plan.available,
            "shortfall": plan.short,
        }
        for line, plan in zip(lines, plans, strict=True)
        if plan.short > 0
    ]
    if short:
        first = short[0]
        raise InsufficientStock(
            f"{len(short)} line(s) short; order item {first['orderItemSeqId']} ({first['productId']}) "
            f"asks {first['requested']}, {first['available']} available",
            lines=short,
        )


def line_outcomes(lines: Sequence[ReserveLine], plans: Sequence[Allocation]) -> list[LineOutcome]:
    return [
        LineOutcome(
            line.order_item_seq_id,
            line.product_id,
            line.lot_id,
            line.quantity,
            [ReservedFrom(t.inventory_item_id, t.quantity, t.not_available) for t in plan.takes],
        )
        for line, plan in zip(lines, plans, strict=True)
    ]
