"""Unreserved issuing (POS sales, `allowUnreserved`): the same promisable stock a new reservation
may take, and never more (SPEC §11).

The rules are reserveStock's (reservations/planning.py): every INV_AVAILABLE item of the shipped
products is locked in item id order, as reserveStock locks them, so the two never deadlock; an
expired lot is skipped unless the request says `allowExpired`; FEFO takes only from items with
positive ATP; and the units taken beyond the reservations are capped by the product's NET ATP
over the usable items, negative ones (stock owed) included: what /v1/availability reports.
Units shipped from the order item's own reservations are not affected.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from stockledger.core.errors import InsufficientStock
from stockledger.ledger.models import InventoryItem
from stockledger.reservations.planning import net_promisable
from stockledger.reservations.rules import INV_AVAILABLE, Allocation, Candidate, allocate, fefo_key, usable


@dataclass
class UnreservedStock:
    """The locked promisable items per product (FEFO order) and the ATP left on each."""

    candidates: dict[str, list[Candidate]]
    remaining: dict[str, Decimal]
    now: datetime
    allow_expired: bool

    def usable(self, product_id: str) -> list[Candidate]:
        """The product's items unreserved units may come from: not expired unless allowed."""
        return [c for c in self.candidates.get(product_id, []) if usable(c, self.now, self.allow_expired)]

    def net(self, product_id: str) -> Decimal:
        """The product's net promisable ATP left: availability's figure."""
        return net_promisable(self.usable(product_id), self.remaining)

    def plan(self, product_id: str, quantity: Decimal) -> Allocation:
        """FEFO over the usable items, capped by the net; plans only (`take` commits)."""
        items = self.usable(product_id)
        return allocate(items, dict(self.remaining), quantity, limit=net_promisable(items, self.remaining))

    def take(self, product_id: str, inventory_item_id: str, quantity: Decimal) -> None:
        """`quantity` unreserved units shipped from the item: refused from an expired lot (without
        allowExpired) and beyond the product's net promisable ATP."""
        net = self.net(product_id)
        if inventory_item_id not in {c.inventory_item_id for c in self.usable(product_id)}:
            mine = self.candidates.get(product_id, [])
            expire = next((c.expire_date for c in mine if c.inventory_item_id == inventory_item_id), None)
            why = f"expired on {expire.date().isoformat()}" if expire else "is not promisable"
            raise InsufficientStock(
                f"Inventory item {inventory_item_id} {why}: its units are not sellable beyond a "
                "reservation unless the request says allowExpired",
                productId=product_id,
                inventoryItemId=inventory_item_id,
                expireDate=expire,
                requested=quantity,
                available=net,
            )
        if quantity > net:
            raise InsufficientStock(
                f"Product {product_id} has {net} promisable units; {quantity} shipped beyond "
                "the reservations",
                productId=product_id,
                requested=quantity,
                available=net,
            )
        self.remaining[inventory_item_id] -= quantity

    def move(self, from_item: str, to_item: str, quantity: Decimal) -> None:
        """A promise moved with the goods: ATP + n where it was, − n on the item that shipped."""
        if from_item in self.remaining:
            self.remaining[from_item] += quantity
        if to_item in self.remaining:
            self.remaining[to_item] -= quantity


def lock_stock(
    session: Session,
    facility_id: str,
    product_ids: Iterable[str],
    reserved: Iterable[str],
    now: datetime,
    allow_expired: bool,
) -> UnreservedStock:
    """Every item a shipment of these products may touch (the products' INV_AVAILABLE items and
    the items reserved for its order items), locked in item id order, read under the lock."""
    i = InventoryItem
    rows = session.execute(
        select(
            i.inventory_item_id,
            i.product_id,
            i.lot_id,
            i.available_to_promise_total,
            i.expire_date,
            i.datetime_received,
            i.status_id,
        )
        .where(i.facility_id == facility_id)
        .where(
            or_(
                and_(i.product_id.in_(sorted(set(product_ids))), i.status_id == INV_AVAILABLE),
                i.inventory_item_id.in_(sorted(set(reserved))),
            )
        )
        .order_by(i.inventory_item_id)
        .with_for_update()
    ).all()
    candidates: dict[str, list[Candidate]] = {}
    for item_id, product_id, lot_id, atp, expire, received, status in rows:
        if status == INV_AVAILABLE:
            candidates.setdefault(product_id, []).append(
                Candidate(item_id, product_id, lot_id, atp, expire, received)
            )
    for items in candidates.values():
        items.sort(key=fefo_key)
    remaining = {c.inventory_item_id: c.available_to_promise for cs in candidates.values() for c in cs}
    return UnreservedStock(candidates, remaining, now, allow_expired)
