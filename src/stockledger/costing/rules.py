"""Cost of goods sold from cost layers: FIFO, LIFO and weighted AVERAGE (pure, no database).

A layer is one receipt's quantity at its unit cost. Issuing stock draws quantity from the
layers in the method's order and prices it at the layers' costs. When the layers hold less
than the issued quantity (stock loaded by an ERP reset or a seed document has no receipt,
so no layer), the uncovered part is priced at the fallback unit cost: the InventoryItem's
`unitCost`, or 0 when the item has none.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from stockledger.core.fixed import QUANTUM, ZERO

COSTING_METHODS = ("FIFO", "LIFO", "AVERAGE")
DEFAULT_METHOD = "FIFO"


@dataclass(frozen=True, slots=True)
class Layer:
    layer_id: str
    received: datetime
    remaining: Decimal
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class Draw:
    """Quantity taken from one layer."""

    layer_id: str
    quantity: Decimal
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class IssueCost:
    draws: tuple[Draw, ...]
    covered_cost: Decimal  # priced from the layers
    uncovered: Decimal  # quantity the layers did not hold
    uncovered_cost: Decimal  # uncovered × fallback unit cost

    @property
    def cost(self) -> Decimal:
        return money(self.covered_cost + self.uncovered_cost)


def money(value: Decimal) -> Decimal:
    """Six decimals, half-even (the precision every amount is stored with)."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def cost_of_issue(
    layers: Sequence[Layer], quantity: Decimal, method: str, fallback_unit_cost: Decimal | None
) -> IssueCost:
    """Which layers an issue of `quantity` draws from and what it costs, by `method`."""
    if quantity < 0:
        raise ValueError("an issue quantity cannot be negative")
    live = [layer for layer in layers if layer.remaining > 0]
    if method == "AVERAGE":
        draws, covered_cost = _average(live, quantity)
    elif method in ("FIFO", "LIFO"):
        draws = _in_order(_ordered(live, newest_first=method == "LIFO"), quantity)
        covered_cost = money(sum((d.quantity * d.unit_cost for d in draws), ZERO))
    else:
        raise ValueError(f"unknown costing method {method}")
    uncovered = quantity - sum((d.quantity for d in draws), ZERO)
    uncovered_cost = money(uncovered * (fallback_unit_cost or ZERO))
    return IssueCost(tuple(draws), covered_cost, uncovered, uncovered_cost)


def _ordered(layers: list[Layer], newest_first: bool) -> list[Layer]:
    return sorted(layers, key=lambda layer: (layer.received, layer.layer_id), reverse=newest_first)


def _in_order(layers: list[Layer], quantity: Decimal) -> list[Draw]:
    draws, left = [], quantity
    for layer in layers:
        if left <= 0:
            break
        take = min(layer.remaining, left)
        draws.append(Draw(layer.layer_id, take, layer.unit_cost))
        left -= take
    return draws


def _average(layers: list[Layer], quantity: Decimal) -> tuple[list[Draw], Decimal]:
    """Priced at the weighted average; drawn from every layer in proportion to what it holds,
    so the average of what remains stays the same (a moving average)."""
    held = sum((layer.remaining for layer in layers), ZERO)
    if held == 0:
        return [], ZERO
    take = min(quantity, held)
    value = sum((layer.remaining * layer.unit_cost for layer in layers), ZERO)
    cost = money(take * value / held)
    if take == held:
        return [Draw(x.layer_id, x.remaining, x.unit_cost) for x in layers], cost
    shares = [min(layer.remaining, money(layer.remaining * take / held)) for layer in layers]
    _settle_rounding(layers, shares, take)
    return [Draw(x.layer_id, s, x.unit_cost) for x, s in zip(layers, shares, strict=True) if s > 0], cost


def _settle_rounding(layers: list[Layer], shares: list[Decimal], take: Decimal) -> None:
    """Rounded shares may miss `take` by a few millionths: put the residue where it fits."""
    residue = take - sum(shares, ZERO)
    for i in sorted(range(len(layers)), key=lambda k: layers[k].remaining, reverse=True):
        if residue == 0:
            return
        room = layers[i].remaining - shares[i] if residue > 0 else shares[i]
        step = min(room, abs(residue))
        step = step if residue > 0 else -step
        shares[i] += step
        residue -= step


def average_unit_cost(costs: Sequence[tuple[Decimal, Decimal]]) -> Decimal | None:
    """Σ cost / Σ quantity over (quantity, cost) pairs; None when nothing was issued."""
    quantity = sum((q for q, _ in costs), ZERO)
    if quantity <= 0:
        return None
    return money(sum((c for _, c in costs), ZERO) / quantity)
