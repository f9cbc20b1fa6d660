"""Shipment rules without a database: status changes, spreading quantities, settling promises."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from stockledger.core.errors import Conflict
from stockledger.core.fixed import ZERO

INPUT, APPROVED, PACKED = "SHIPMENT_INPUT", "SHIPMENT_APPROVED", "SHIPMENT_PACKED"
SHIPPED, CANCELLED = "SHIPMENT_SHIPPED", "SHIPMENT_CANCELLED"
OPEN_STATUSES = (INPUT, APPROVED, PACKED)  # editable, resettable, shippable


def require_open(shipment_id: str, status_id: str, action: str) -> None:
    """A shipped or cancelled shipment is final: nothing more may change on it."""
    if status_id not in OPEN_STATUSES:
        raise Conflict(
            f"Shipment {shipment_id} is {status_id}; it cannot be {action}",
            shipmentId=shipment_id,
            statusId=status_id,
        )


@dataclass(slots=True)
class Promise:
    """One active reservation row of an order item: units promised from one inventory item."""

    inventory_item_id: str
    quantity: Decimal  # still promised
    consumed: Decimal = ZERO  # taken by this shipment


@dataclass(frozen=True, slots=True)
class Settlement:
    """How `quantity` shipped from `shipped_item` settles the order item's promises."""

    shipped_item: str
    quantity: Decimal
    from_shipped_item: Decimal  # its promise was on the item that shipped
    moved: tuple[tuple[str, Decimal], ...] = field(default=())  # promised on other items
    unreserved: Decimal = ZERO  # beyond every promise

    @property
    def moved_total(self) -> Decimal:
        return sum((q for _, q in self.moved), ZERO)

    @property
    def shipped_item_atp_diff(self) -> Decimal:
        return -(self.moved_total + self.unreserved)


def settle(shipped_item: str, quantity: Decimal, promises: Sequence[Promise]) -> Settlement:
    """Consume the order item's promises for `quantity` shipped from `shipped_item` (mutates them).

    ATP was lowered when the units were promised, so what ships settles those promises:
    - promised on the item that shipped: QOH − n there, ATP unchanged (already taken);
    - promised on another item (the picker took another lot or location): the promise moves
      with the goods: ATP + n on the promised item (it keeps those units) and ATP − n on the
      item that shipped, whose QOH drops. The product's ATP does not change;
    - beyond every promise: unreserved, QOH − n and ATP − n on the shipped item (allowed only
      when the caller says so, and then only from unpromised ATP).
    Promises on the shipped item are consumed first, then the others in the order given.
    """
    left = quantity
    same = ZERO
    moved: list[tuple[str, Decimal]] = []
    ordered = sorted(promises, key=lambda p: p.inventory_item_id != shipped_item)
    for promise in ordered:
        take = min(promise.quantity, left)
        if take <= 0:
            continue
        promise.quantity -= take
        promise.consumed += take
        left -= take
        if promise.inventory_item_id == shipped_item:
            same += take
        else:
            moved.append((promise.inventory_item_id, take))
    return Settlement(shipped_item, quantity, same, tuple(moved), left)


def spread(
    quantity: Decimal, candidates: Sequence[tuple[str, Decimal]]
) -> tuple[list[tuple[str, Decimal]], Decimal]:
    """Take `quantity` from candidates in the order given, each up to what it holds.

    Returns the parts (item, quantity) and the shortfall nothing could cover.
    """
    parts: list[tuple[str, Decimal]] = []
    left = quantity
    for item_id, held in candidates:
        take = min(held, left)
        if take > 0:
            parts.append((item_id, take))
            left -= take
    return parts, left


def merge_parts(parts: Sequence[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """Parts on the same item added up, first appearance first."""
    merged: dict[str, Decimal] = {}
    for item_id, quantity in parts:
        merged[item_id] = merged.get(item_id, ZERO) + quantity
    return list(merged.items())
