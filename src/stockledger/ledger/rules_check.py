"""The business rules of SPEC §11, checked over the whole database (`stockledger verify`).

Each rule counts what breaks it; 0 everywhere is a healthy ledger. Pure reads, no locks.
"""

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, literal_column, or_, select, type_coerce, union
from sqlalchemy.orm import Session

from stockledger.core.fixed import ZERO, Fixed6
from stockledger.core.model_base import utcnow
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemDetail,
    ItemIssuance,
    OrderItem,
    OrderItemInventoryReservation,
    ReturnHeader,
    ReturnItem,
    ShipmentItem,
)

RES_ACTIVE, INV_AVAILABLE = "RES_ACTIVE", "INV_AVAILABLE"
# ATP-only takes linked to an order item that are promises; any other (a rejection's ATP − n)
# records missing stock, not a reservation.
PROMISE_REASONS = ("RESERVATION", "RESERVATION_MOVED")
ItemKey = tuple[str, str]


def reservations_match_ledger(session: Session, now: datetime) -> int:
    """Items whose active reservation units differ from their reservation ledger rows: per
    item, Σ (QOH diff − ATP diff) over rows linked to an order item (not a return's), ATP-only
    takes counted only when they promise, equals Σ active reservation quantity."""
    r = OrderItemInventoryReservation
    reserved = _sums(
        session,
        select(r.facility_id, r.inventory_item_id, func.sum(r.quantity))
        .where(r.status_id == RES_ACTIVE)
        .group_by(r.facility_id, r.inventory_item_id),
    )
    d = InventoryItemDetail
    reserving = or_(  # not an ATP-only take, or one that promises
        d.quantity_on_hand_diff != 0,
        d.available_to_promise_diff >= 0,
        d.reason_enum_id.in_(PROMISE_REASONS),
    )
    ledger = _sums(
        session,
        select(
            d.facility_id,
            d.inventory_item_id,
            func.sum(type_coerce(d.quantity_on_hand_diff - d.available_to_promise_diff, Fixed6())),
        )
        .where(d.order_id.is_not(None), d.order_item_seq_id.is_not(None), d.return_id.is_(None))
        .where(reserving)
        .group_by(d.facility_id, d.inventory_item_id),
    )
    keys = reserved.keys() | ledger.keys()
    return sum(1 for k in keys if reserved.get(k, ZERO) != ledger.get(k, ZERO))


def _sums(session: Session, stmt: object) -> dict[ItemKey, Decimal]:
    return {(f, i): q or ZERO for f, i, q in session.execute(stmt)}  # type: ignore[call-overload]


def issuances_of_their_order_items_product(session: Session, now: datetime) -> int:
    """Issuances whose item holds another product than their order item or shipment item."""
    ii, i, oi, si = ItemIssuance, InventoryItem, OrderItem, ShipmentItem
    stmt = (
        select(func.count())
        .select_from(ii)
        .join(i, (i.facility_id == ii.facility_id) & (i.inventory_item_id == ii.inventory_item_id))
        .outerjoin(
            oi,
            (oi.facility_id == ii.facility_id)
            & (oi.order_id == ii.order_id)
            & (oi.order_item_seq_id == ii.order_item_seq_id),
        )
        .outerjoin(
            si,
            (si.facility_id == ii.facility_id)
            & (si.shipment_id == ii.shipment_id)
            & (si.shipment_item_seq_id == ii.shipment_item_seq_id),
        )
        .where(or_(i.product_id != oi.product_id, i.product_id != si.product_id))
    )
    return int(session.scalar(stmt) or 0)


def nothing_reserved_on_non_promisable_items(session: Session, now: datetime) -> int:
    """Active reservations holding units on an item that is not INV_AVAILABLE (on hold, returned,
    defective...). A lot past its expireDate is not counted: its units may have been reserved
    before it expired, or on purpose with `allowExpired: true`; new reservations skip it."""
    r, i = OrderItemInventoryReservation, InventoryItem
    stmt = (
        select(func.count())
        .select_from(r)
        .join(i, (i.facility_id == r.facility_id) & (i.inventory_item_id == r.inventory_item_id))
        .where(r.status_id == RES_ACTIVE, r.quantity > 0)
        .where(i.status_id != INV_AVAILABLE)
    )
    return int(session.scalar(stmt) or 0)


def one_product_per_order_item(session: Session, now: datetime) -> int:
    """Order items named with more than one product anywhere (claims, reservations, shipment
    items, return items), in any facility; issued items: the rule above."""
    r, si, ri, rh = OrderItemInventoryReservation, ShipmentItem, ReturnItem, ReturnHeader
    named = union(
        select(OrderItem.order_id, OrderItem.order_item_seq_id, OrderItem.product_id),
        select(r.order_id, r.order_item_seq_id, r.product_id),
        select(si.order_id, si.order_item_seq_id, si.product_id).where(si.order_id.is_not(None)),
        select(rh.order_id, ri.order_item_seq_id, ri.product_id)
        .join(rh, (rh.facility_id == ri.facility_id) & (rh.return_id == ri.return_id))
        .where(rh.order_id.is_not(None), ri.order_item_seq_id.is_not(None)),
    ).subquery()
    c = named.c
    several = select(c[0], c[1]).group_by(c[0], c[1]).having(func.count(literal_column("*")) > 1).subquery()
    return int(session.scalar(select(func.count()).select_from(several)) or 0)


def an_event_for_every_ledger_row(session: Session, now: datetime) -> int:
    """Ledger rows with no outbox event of their facility naming their item at or after them
    (every change writes its event in its transaction, after its rows)."""
    latest: dict[ItemKey, datetime] = {}
    for facility_id, stamp, payload in session.execute(
        select(OutboxEvent.facility_id, OutboxEvent.created_stamp, OutboxEvent.payload)
    ).yield_per(10_000):
        for item_id in _items_named(payload):
            key = (facility_id, item_id)
            if key not in latest or latest[key] < stamp:
                latest[key] = stamp
    d = InventoryItemDetail
    rows = session.execute(select(d.facility_id, d.inventory_item_id, d.created_stamp)).yield_per(10_000)
    return sum(1 for f, i, stamp in rows if (f, i) not in latest or latest[(f, i)] < stamp)


_NAMED = re.compile(r'"inventoryItemIds?":(\[[^\]]*\]|"(?:[^"\\]|\\.)*")')


def _items_named(payload: str) -> Iterator[str]:
    for match in _NAMED.finditer(payload):
        value = json.loads(match.group(1))
        yield from (v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))


Rule = Callable[[Session, datetime], int]
RULES: dict[str, Rule] = {
    "reservations_match_ledger": reservations_match_ledger,
    "issuances_of_their_order_items_product": issuances_of_their_order_items_product,
    "nothing_reserved_on_non_promisable_items": nothing_reserved_on_non_promisable_items,
    "one_product_per_order_item": one_product_per_order_item,
    "an_event_for_every_ledger_row": an_event_for_every_ledger_row,
}


def check_rules(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Every business rule by name with the number of rows (or items) that break it."""
    at = now or utcnow()
    return {name: rule(session, at) for name, rule in RULES.items()}
