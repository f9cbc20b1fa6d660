"""Where shipped units came from and how they settle the order item's promises.

Per shipped part (one shipment item from one inventory item) one ItemIssuance and one detail
row on the item that shipped: QOH − n, and ATP − (promises moved onto it + unreserved units);
plus ATP + m on every other item whose promise it consumed (see `rules.settle`). Every row
links orderId, orderItemSeqId, shipmentId, shipmentItemSeqId and itemIssuanceId.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from stockledger.core.errors import Conflict, InsufficientStock, NotFound, ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation, Shipment, ShipmentItem
from stockledger.ledger.post import Links, Posting
from stockledger.reservations.rules import (
    INV_AVAILABLE,
    RELEASE_REASON,
    RES_ACTIVE,
    RES_CANCELLED,
    RES_FULFILLED,
)
from stockledger.shipping.rules import Promise, Settlement, merge_parts, settle, spread
from stockledger.shipping.unreserved import UnreservedStock

ITEM = cast(Table, InventoryItem.__table__)
AVAILABLE = INV_AVAILABLE
ISSUE_REASON = "ITEM_ISSUANCE"  # QOH − n on the item that shipped
MOVED_REASON = "RESERVATION_MOVED"  # ATP + n on the item the shipped units were promised from
# releaseRemainder writes the same reason as cancelOrderItemInventoryReservation

OrderItemKey = tuple[str | None, str | None]
Promised = dict[OrderItemKey, list[tuple[Promise, OrderItemInventoryReservation]]]


@dataclass(frozen=True, slots=True)
class ShipLine:
    """What actually shipped for one shipment item (source item or lot optional)."""

    shipment_item_seq_id: str
    quantity: Decimal
    inventory_item_id: str | None = None
    lot_id: str | None = None


@dataclass(frozen=True, slots=True)
class Issuance:
    item_issuance_id: str
    shipment_item_seq_id: str
    order_id: str | None
    order_item_seq_id: str | None
    product_id: str
    inventory_item_id: str
    lot_id: str | None
    quantity: Decimal
    cogs: Decimal = ZERO


@dataclass
class Issuing:
    """The working state of one confirmation: promises per order item, postings, issuances."""

    session: Session
    shipment: Shipment
    allow_unreserved: bool
    promises: Promised
    stock: UnreservedStock
    postings: list[Posting] = field(default_factory=list)
    issued: list[tuple[Issuance, InventoryItem]] = field(default_factory=list)
    released: list[dict[str, object]] = field(default_factory=list)

    def promised_to(self, item: ShipmentItem) -> list[tuple[Promise, OrderItemInventoryReservation]]:
        """The order item's active reservations of the shipment item's product: a line never
        issues from a promise of another product (SPEC §11)."""
        pairs = self.promises.get((item.order_id, item.order_item_seq_id), [])
        return [(p, r) for p, r in pairs if r.product_id == item.product_id]

    def ship_line(self, item: ShipmentItem, line: ShipLine) -> None:
        promises = [p for p, _ in self.promised_to(item)]
        for source_id, quantity in self._sources(item, line):
            source = self._item(source_id)
            settlement = settle(source_id, quantity, promises)
            if settlement.unreserved > 0 and not self.allow_unreserved:
                raise _beyond_reservation(item, settlement.unreserved)
            self._account(item, settlement)
            self._issue(item, source, settlement)

    def _account(self, item: ShipmentItem, st: Settlement) -> None:
        """Moved promises and unreserved units against the locked promisable stock (capped)."""
        for promised_item, moved in st.moved:
            self.stock.move(promised_item, st.shipped_item, moved)
        if st.unreserved > 0:
            self.stock.take(item.product_id, st.shipped_item, st.unreserved)

    def _issue(self, item: ShipmentItem, source: InventoryItem, st: Settlement) -> None:
        issuance = Issuance(
            new_id("ISS"),
            item.shipment_item_seq_id,
            item.order_id,
            item.order_item_seq_id,
            item.product_id,
            source.inventory_item_id,
            source.lot_id,
            st.quantity,
        )
        links = self._links(item, issuance.item_issuance_id)
        facility_id = self.shipment.facility_id
        self.postings.append(
            Posting(
                facility_id,
                source.inventory_item_id,
                ISSUE_REASON,
                quantity_on_hand_diff=-st.quantity,
                available_to_promise_diff=st.shipped_item_atp_diff,
                links=links,
                require_atp=st.unreserved > 0,  # unpromised ATP only; moved promises are not new demand
            )
        )
        for promised_item, moved in st.moved:
            self.postings.append(
                Posting(
                    facility_id, promised_item, MOVED_REASON, available_to_promise_diff=moved, links=links
                )
            )
        self.issued.append((issuance, source))

    def _sources(self, item: ShipmentItem, line: ShipLine) -> list[tuple[str, Decimal]]:
        """Where the units came from: the named item or lot, else the order item's promises
        (their on-hand part), then unpromised ATP FEFO."""
        if line.inventory_item_id or line.lot_id:
            return self._named_sources(item, line)
        promised = [
            (p.inventory_item_id, p.quantity - r.quantity_not_available) for p, r in self.promised_to(item)
        ]
        parts, short = spread(line.quantity, promised)
        if short > 0:
            parts += self._unreserved_sources(item, line, short)
        return merge_parts(parts)

    def _unreserved_sources(
        self, item: ShipmentItem, line: ShipLine, short: Decimal
    ) -> list[tuple[str, Decimal]]:
        """FEFO over the promisable items (expired lots only with allowExpired), at most the
        product's net promisable ATP, as a new reservation would take."""
        if not self.allow_unreserved:
            raise _beyond_reservation(item, short)
        plan = self.stock.plan(item.product_id, short)
        if plan.short > 0:
            available = line.quantity - short + plan.available
            raise InsufficientStock(
                f"Product {item.product_id} has {plan.available} promisable units beyond the "
                f"reservations (expired lots count only with allowExpired); shipment item "
                f"{item.shipment_item_seq_id} ships {line.quantity}, {available} available",
                productId=item.product_id,
                shipmentItemSeqId=item.shipment_item_seq_id,
                requested=line.quantity,
                available=available,
            )
        return [(t.inventory_item_id, t.quantity) for t in plan.takes]

    def _named_sources(self, item: ShipmentItem, line: ShipLine) -> list[tuple[str, Decimal]]:
        if line.inventory_item_id:
            source = self._item(line.inventory_item_id)
            _check_source(source, item, line)
            return [(source.inventory_item_id, line.quantity)]
        lot_items = self._fefo(item.product_id, ITEM.c.quantity_on_hand_total, ITEM.c.lot_id == line.lot_id)
        if not lot_items:
            raise NotFound(
                f"No available item of product {item.product_id} with lot {line.lot_id}",
                productId=item.product_id,
                lotId=line.lot_id,
            )
        parts, short = spread(line.quantity, lot_items)
        if short > 0:
            raise InsufficientStock(
                f"Lot {line.lot_id} of product {item.product_id} has {line.quantity - short} on hand; "
                f"{line.quantity} shipped",
                lotId=line.lot_id,
                requested=line.quantity,
                available=line.quantity - short,
            )
        return parts

    def _fefo(
        self, product_id: str, amount: ColumnElement[Decimal], *where: ColumnElement[bool]
    ) -> list[tuple[str, Decimal]]:
        """Sellable items of the product holding some `amount`, earliest expiry then oldest first."""
        i = ITEM.c
        rows = self.session.execute(
            select(i.inventory_item_id, amount)
            .where(i.facility_id == self.shipment.facility_id, i.product_id == product_id)
            .where(i.status_id == AVAILABLE, amount > 0, *where)
            .order_by(i.expire_date.is_(None), i.expire_date, i.datetime_received, i.inventory_item_id)
        ).all()
        return [(r[0], r[1]) for r in rows]

    def _item(self, inventory_item_id: str) -> InventoryItem:
        item = self.session.get(InventoryItem, (self.shipment.facility_id, inventory_item_id))
        if item is None:
            raise NotFound(
                f"Inventory item {inventory_item_id} not found in facility {self.shipment.facility_id}",
                inventoryItemId=inventory_item_id,
            )
        return item

    def _links(self, item: ShipmentItem, item_issuance_id: str | None = None) -> Links:
        return Links(
            order_id=item.order_id,
            order_item_seq_id=item.order_item_seq_id,
            ship_group_seq_id=self.shipment.primary_ship_group_seq_id,
            shipment_id=self.shipment.shipment_id,
            shipment_item_seq_id=item.shipment_item_seq_id,
            item_issuance_id=item_issuance_id,
        )

    def release_remainder(self, items: Iterable[ShipmentItem]) -> None:
        """What is still promised to the shipment's order items goes back to ATP."""
        done: set[OrderItemKey] = set()
        for item in items:
            key = (item.order_id, item.order_item_seq_id)
            if key in done:
                continue
            done.add(key)
            for promise, _row in self.promised_to(item):
                if promise.quantity > 0:
                    self._release(item, promise)

    def _release(self, item: ShipmentItem, promise: Promise) -> None:
        links = self._links(item)
        self.postings.append(
            Posting(
                self.shipment.facility_id,
                promise.inventory_item_id,
                RELEASE_REASON,
                available_to_promise_diff=promise.quantity,
                links=links,
            )
        )
        self.released.append(
            {
                "orderId": item.order_id,
                "orderItemSeqId": item.order_item_seq_id,
                "inventoryItemId": promise.inventory_item_id,
                "quantity": promise.quantity,
            }
        )

    def save_promises(self, released: bool) -> None:
        """Rows shrink by what shipped; at 0 RES_FULFILLED. A released remainder ends the row:
        RES_FULFILLED (quantity 0) when part of it shipped, else RES_CANCELLED keeping the
        quantity released, as a cancellation would."""
        now = utcnow()
        for promise, row in (pair for pairs in self.promises.values() for pair in pairs):
            if promise.consumed == 0 and not (released and promise.quantity > 0):
                continue
            status = RES_ACTIVE
            if promise.quantity == 0 or (released and promise.consumed > 0):
                status, row.quantity = RES_FULFILLED, ZERO
            elif released:
                status = RES_CANCELLED
            else:
                row.quantity = promise.quantity
            row.quantity_not_available = min(row.quantity_not_available, row.quantity)
            if status != row.status_id:
                row.status_id, row.status_datetime = status, now
        self.session.flush()


def _beyond_reservation(item: ShipmentItem, unreserved: Decimal) -> InsufficientStock:
    return InsufficientStock(
        f"Shipment item {item.shipment_item_seq_id} ships {unreserved} beyond the reservation of "
        f"order item {item.order_id}/{item.order_item_seq_id}; pass allowUnreserved to allow it",
        shipmentItemSeqId=item.shipment_item_seq_id,
        unreserved=unreserved,
    )


def _check_source(source: InventoryItem, item: ShipmentItem, line: ShipLine) -> None:
    if source.product_id != item.product_id:
        raise ValidationFailed(
            f"Inventory item {source.inventory_item_id} holds {source.product_id}, "
            f"not {item.product_id} of shipment item {item.shipment_item_seq_id}",
            inventoryItemId=source.inventory_item_id,
        )
    if line.lot_id and source.lot_id != line.lot_id:
        raise ValidationFailed(
            f"Inventory item {source.inventory_item_id} is lot {source.lot_id}, not {line.lot_id}",
            inventoryItemId=source.inventory_item_id,
        )
    if source.status_id != AVAILABLE:
        raise Conflict(
            f"Inventory item {source.inventory_item_id} is {source.status_id}, not sellable",
            inventoryItemId=source.inventory_item_id,
            statusId=source.status_id,
        )
