"""reserveStock / createOrderItemInventoryReservation: promise ATP to order items, FEFO.

Lock order (no deadlocks between concurrent orders): every candidate item of the whole order
is locked first, in (facility, inventoryItemId) order, then the lines are planned on the
locked ATP, and the postings are written in the same order by the ledger (`post`; each
guarded: ATP − n only if ATP ≥ n). Because the plan is made under the locks,
a guarded posting cannot lose a race; should it be refused anyway, InsufficientStock rolls
the whole order back. A race therefore never re-plans a line: ALL_OR_NOTHING answers 409
with every short line, PARTIAL and BACKORDER see exactly the ATP that the locks froze. Items
created after the candidate read (a new lot received meanwhile) are simply not used by this order.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility
from stockledger.core.db import (
    Database,
    Statement,
    array_literal,
    fetched_rows,
    is_postgres,
    locking,
    run,
)
from stockledger.core.errors import InsufficientStock, NotFound, ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.core.scope import FacilityScoped, bind_principal, check_scope
from stockledger.events.outbox import Event
from stockledger.ledger.models import InventoryItem, Product
from stockledger.ledger.post import Carried, Links, Posting, post
from stockledger.ledger.reservation_rows import ReservationRow
from stockledger.ledger.sole_item import (
    SoleItemReservation,
    post_sole_item,
    post_sole_item_alone,
    post_sole_item_alone_async,
)
from stockledger.orders.items import claim_order_items, products_of
from stockledger.reservations.backorders import backorder_item
from stockledger.reservations.planning import plan_lines
from stockledger.reservations.release import Released, cancel_reservation, release_reservation
from stockledger.reservations.rules import (
    ALL_OR_NOTHING,
    BACKORDER,
    INV_AVAILABLE,
    RESERVE_REASON,
    Allocation,
    Candidate,
    add_backorder,
    chunks,
    fefo_key,
    require_fill,
)

__all__ = [
    "Released",
    "ReserveLine",
    "ReserveOutcome",
    "cancel_reservation",
    "release_reservation",
    "reserve_line",
    "reserve_line_async",
    "reserve_stock",
]

EVENT_LINES = 1_000
CHUNK = 10_000  # keys per IN (…) list: well under both databases' bind-parameter limits


@dataclass(frozen=True, slots=True)
class ReserveLine:
    order_item_seq_id: str
    product_id: str
    quantity: Decimal
    lot_id: str | None = None
    allow_expired: bool = False  # FEFO may take an expired lot (SPEC §11: only when asked)


@dataclass(frozen=True, slots=True)
class ReservedFrom:
    inventory_item_id: str
    quantity: Decimal
    quantity_not_available: Decimal


@dataclass(frozen=True, slots=True)
class LineOutcome:
    order_item_seq_id: str
    product_id: str
    lot_id: str | None
    quantity_requested: Decimal
    reservations: list[ReservedFrom]

    @property
    def quantity_reserved(self) -> Decimal:
        return sum((r.quantity for r in self.reservations), ZERO)

    @property
    def quantity_not_available(self) -> Decimal:
        return sum((r.quantity_not_available for r in self.reservations), ZERO)

    @property
    def quantity_unreserved(self) -> Decimal:
        """PARTIAL: what could not be promised at all."""
        return self.quantity_requested - self.quantity_reserved


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    order_id: str
    facility_id: str
    fill: str
    lines: list[LineOutcome] = field(default_factory=list)


def reserve_stock(
    session: Session,
    order_id: str,
    facility_id: str,
    lines: Sequence[ReserveLine],
    fill: str = ALL_OR_NOTHING,
) -> ReserveOutcome:
    """Reserve every line of an order in the caller's transaction, per the fill policy."""
    return _reserve(session, order_id, facility_id, lines, fill, try_sole_item=True)


def reserve_line(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
    sole_item_tried: bool = False,
) -> ReserveOutcome:
    """One order item (POST /v1/reservations) in a transaction of its own, for `principal`.

    PostgreSQL, when the product's sole item covers the line (the usual order line): ONE
    statement sent in autocommit (Database.run_alone), so item, detail row, reservation and
    event commit together in a single round trip and the item's row lock is held only while
    the server runs it. Otherwise (short, several items, unknown ids; or SQLite):
    `reserve_stock` in a transaction, which decides, nothing having been written.
    `sole_item_tried`: reserve_line_async tried that statement already (it returned no row).
    """
    if db.is_postgres and not sole_item_tried:
        user = _checked_user(db, facility_id, line, fill, principal)
        item = post_sole_item_alone(db, _sole_item(order_id, facility_id, line, fill), user)
        if item is not None:
            return _sole_item_outcome(order_id, facility_id, fill, line, item)
    with db.transaction() as session:
        bind_principal(session, principal)
        return _reserve(session, order_id, facility_id, [line], fill, try_sole_item=False)


async def reserve_line_async(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
) -> ReserveOutcome | None:
    """`reserve_line`'s one statement on the event loop (PostgreSQL, the async pool open). None:
    not a sole item that covers the line, nothing written: the caller runs
    `reserve_line(…, sole_item_tried=True)` in a worker thread."""
    user = _checked_user(db, facility_id, line, fill, principal)
    item = await post_sole_item_alone_async(db, _sole_item(order_id, facility_id, line, fill), user)
    return None if item is None else _sole_item_outcome(order_id, facility_id, fill, line, item)


def _checked_user(
    db: Database, facility_id: str, line: ReserveLine, fill: str, principal: FacilityScoped | None
) -> str | None:
    """Who reserves alone, once the fill, the line and the caller's facility scope are checked
    (a Session's path checks them as it goes)."""
    require_fill(fill)
    _check_lines([line])
    check_scope(principal, facility_id)
    return principal.login_id if principal is not None else db.user


def _sole_item_outcome(
    order_id: str, facility_id: str, fill: str, line: ReserveLine, item_id: str
) -> ReserveOutcome:
    """The line reserved whole from the sole item."""
    return ReserveOutcome(order_id, facility_id, fill, [_whole_line(line, item_id)])


def _reserve(
    session: Session,
    order_id: str,
    facility_id: str,
    lines: Sequence[ReserveLine],
    fill: str,
    try_sole_item: bool,
) -> ReserveOutcome:
    require_fill(fill)
    _check_lines(lines)
    if try_sole_item and len(lines) == 1 and is_postgres(session):  # it claims the order item itself
        outcome = _reserve_from_sole_item(session, order_id, facility_id, lines[0], fill)
        if outcome is not None:
            return outcome
    claim_order_items(
        session, facility_id, products_of((order_id, x.order_item_seq_id, x.product_id) for x in lines)
    )
    product_ids = {line.product_id for line in lines}
    candidates, locked = _lock_candidates(session, facility_id, product_ids)
    if len(candidates) < len(product_ids):  # a locked item proves its facility and product exist
        require_facility(session, facility_id)
        _require_products(session, product_ids - candidates.keys())
    now = utcnow()
    plans = plan_lines(candidates, lines, now)
    if fill == ALL_OR_NOTHING:
        _refuse_short_lines(lines, plans)
    if fill == BACKORDER:
        for line, plan in zip(lines, plans, strict=True):
            if plan.short > 0:
                add_backorder(plan, _backorder_item(session, facility_id, line, candidates, now))
    outcome = ReserveOutcome(order_id, facility_id, fill, _outcomes(lines, plans))
    _write(session, outcome, locked)
    return outcome


def _reserve_from_sole_item(
    session: Session, order_id: str, facility_id: str, line: ReserveLine, fill: str
) -> ReserveOutcome | None:
    """One line of a product with one item in the facility, which covers it: posted, reserved
    and its event recorded in ONE statement in the session's transaction (PostgreSQL), as every
    fill policy would. None: not so: the general path decides, nothing having been written."""
    item = post_sole_item(session, _sole_item(order_id, facility_id, line, fill))
    return None if item is None else _sole_item_outcome(order_id, facility_id, fill, line, item)


def _sole_item(order_id: str, facility_id: str, line: ReserveLine, fill: str) -> SoleItemReservation:
    """The line as the ledger's one-statement reservation; its event as the general path's."""

    def payload(item_id: str) -> dict[str, Any]:
        outcome = _sole_item_outcome(order_id, facility_id, fill, line, item_id)
        return _event(outcome, outcome.lines)

    return SoleItemReservation(
        facility_id,
        order_id,
        line.order_item_seq_id,
        line.product_id,
        line.lot_id,
        line.quantity,
        RESERVE_REASON,
        "StockReserved",
        payload,
        line.allow_expired,
    )


def _whole_line(line: ReserveLine, item_id: str) -> LineOutcome:
    reserved = [ReservedFrom(item_id, line.quantity, ZERO)]
    return LineOutcome(line.order_item_seq_id, line.product_id, line.lot_id, line.quantity, reserved)


def _check_lines(lines: Sequence[ReserveLine]) -> None:
    if not lines:
        raise ValidationFailed("An order to reserve needs at least one line")
    seen: set[str] = set()
    for line in lines:
        if not line.quantity.is_finite() or line.quantity <= 0:
            raise ValidationFailed(
                "quantity must be a positive number",
                orderItemSeqId=line.order_item_seq_id,
                quantity=str(line.quantity),
            )
        if line.order_item_seq_id in seen:
            raise ValidationFailed(
                f"orderItemSeqId {line.order_item_seq_id} appears twice in the order",
                orderItemSeqId=line.order_item_seq_id,
            )
        seen.add(line.order_item_seq_id)


def _require_products(session: Session, product_ids: set[str]) -> None:
    found: set[str] = set()
    for chunk in chunks(sorted(product_ids), CHUNK):
        found.update(session.scalars(select(Product.product_id).where(Product.product_id.in_(chunk))))
    missing = sorted(product_ids - found)
    if missing:
        raise NotFound(f"Product {missing[0]} not found", productIds=missing[:100])


Locked = dict[str, int]  # inventory item id → its last_detail_seq, read under the lock


def _lock_candidates(
    session: Session, facility_id: str, product_ids: set[str]
) -> tuple[dict[str, list[Candidate]], Locked]:
    """The products' INV_AVAILABLE items, locked in item id order; per product in FEFO order."""
    if len(product_ids) == 1:  # the usual single line: a lean statement
        lock = Statement(
            locking(session, _LOCK_ONE_PRODUCT, "inventory_item_id"),
            {"f": facility_id, "p": next(iter(product_ids))},
        )
        dialect = session.get_bind().dialect
        return _candidates(fetched_rows(dialect, _LEAN_COLUMNS, run(session, lock)))
    if is_postgres(session):  # one lean statement, the ids as one array: PostgreSQL locks in id order
        lock = Statement(_LOCK_PRODUCTS, {"f": facility_id, "p": array_literal(sorted(product_ids))})
        dialect = session.get_bind().dialect
        return _candidates(fetched_rows(dialect, _LEAN_COLUMNS, run(session, lock)))
    if len(product_ids) <= CHUNK:  # SQLite: one statement (the write lock is held already)
        return _candidates(session.execute(_SELECT_BY_PRODUCT, {"f": facility_id, "p": sorted(product_ids)}))
    i = InventoryItem
    ids: list[str] = []
    for chunk in chunks(sorted(product_ids), CHUNK):
        ids.extend(
            session.scalars(
                select(i.inventory_item_id).where(
                    i.facility_id == facility_id, i.product_id.in_(chunk), i.status_id == INV_AVAILABLE
                )
            )
        )
    locked: list[Row[Any]] = []
    for chunk in chunks(sorted(ids), CHUNK):
        locked.extend(
            session.execute(
                select(*_CANDIDATE_COLUMNS)
                .where(i.facility_id == facility_id, i.inventory_item_id.in_(chunk))
                .order_by(i.inventory_item_id)
                .with_for_update()
            )
        )
    return _candidates(locked)


def _candidates(rows: Iterable[Row[Any] | tuple[Any, ...]]) -> tuple[dict[str, list[Candidate]], Locked]:
    found: dict[str, list[Candidate]] = {}
    locked: Locked = {}
    for item_id, product_id, lot_id, atp, expire, received, status, last_seq in rows:
        if status == INV_AVAILABLE:  # re-checked under the lock
            found.setdefault(product_id, []).append(
                Candidate(item_id, product_id, lot_id, atp, expire, received)
            )
            locked[item_id] = last_seq
    for items in found.values():
        items.sort(key=fefo_key)
    return found, locked


_CANDIDATE_COLUMNS = (
    InventoryItem.inventory_item_id,
    InventoryItem.product_id,
    InventoryItem.lot_id,
    InventoryItem.available_to_promise_total,
    InventoryItem.expire_date,
    InventoryItem.datetime_received,
    InventoryItem.status_id,
    InventoryItem.last_detail_seq,
)
_LEAN_COLUMNS = tuple(cast(Table, InventoryItem.__table__).c[c.key] for c in _CANDIDATE_COLUMNS)
_LOCK_ONE_PRODUCT = (
    f"SELECT {', '.join(c.name for c in _CANDIDATE_COLUMNS)} FROM inventory_item "
    f"WHERE facility_id = :f AND product_id = :p AND status_id = '{INV_AVAILABLE}'"
)
# Built once: the same statement objects every call, so SQLAlchemy's compiled cache always hits.
# SQLite needs no lock order (and ordering by the key made its planner scan the facility).
_SELECT_BY_PRODUCT = select(*_CANDIDATE_COLUMNS).where(
    InventoryItem.facility_id == bindparam("f"),
    InventoryItem.product_id.in_(bindparam("p", expanding=True)),
    InventoryItem.status_id == INV_AVAILABLE,
)
_LOCK_PRODUCTS = (  # PostgreSQL
    f"SELECT {', '.join(c.name for c in _CANDIDATE_COLUMNS)} FROM inventory_item "
    f"WHERE facility_id = :f AND product_id = ANY(:p::text[]) AND status_id = '{INV_AVAILABLE}' "
    "ORDER BY inventory_item_id FOR UPDATE"
)


def _refuse_short_lines(lines: Sequence[ReserveLine], plans: Sequence[Allocation]) -> None:
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


def _backorder_item(
    session: Session,
    facility_id: str,
    line: ReserveLine,
    candidates: dict[str, list[Candidate]],
    now: datetime,
) -> str:
    mine = candidates.get(line.product_id, [])
    return backorder_item(session, facility_id, line.product_id, line.lot_id, mine, now, line.allow_expired)


def _outcomes(lines: Sequence[ReserveLine], plans: Sequence[Allocation]) -> list[LineOutcome]:
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


def _write(session: Session, outcome: ReserveOutcome, locked: Locked) -> None:
    """Postings in item id order, then the reservation rows in key order, then the events."""
    postings = [
        Posting(
            outcome.facility_id,
            r.inventory_item_id,
            RESERVE_REASON,
            available_to_promise_diff=-r.quantity,
            links=Links(order_id=outcome.order_id, order_item_seq_id=line.order_item_seq_id),
            require_atp=r.quantity_not_available == 0,
        )
        for line in outcome.lines
        for r in line.reservations
    ]
    reserved = [line for line in outcome.lines if line.reservations]
    events = [  # one event per order (per 1,000 lines of it)
        Event(outcome.facility_id, "StockReserved", _event(outcome, part))
        for part in chunks(reserved, EVENT_LINES)
    ]
    # The usual case, one take from a locked item: posting, reservation and event in one round
    # trip (PostgreSQL: one statement); several: set-based, the locked items not read again.
    post(
        session,
        postings[0] if len(postings) == 1 else sorted(postings, key=lambda p: p.inventory_item_id),
        held={(outcome.facility_id, item): seq for item, seq in locked.items()},
        carried=Carried(_reservation_rows(outcome), events),
    )


def _reservation_rows(outcome: ReserveOutcome) -> list[ReservationRow]:
    """One row per take, in key order."""
    now = utcnow()
    return sorted(
        (
            ReservationRow(
                outcome.facility_id,
                outcome.order_id,
                line.order_item_seq_id,
                r.inventory_item_id,
                line.product_id,
                r.quantity,
                r.quantity_not_available,
                now,
            )
            for line in outcome.lines
            for r in line.reservations
        ),
        key=lambda row: (row.order_item_seq_id, row.inventory_item_id),
    )


def _event(outcome: ReserveOutcome, lines: Sequence[LineOutcome]) -> dict[str, Any]:
    return {
        "facilityId": outcome.facility_id,
        "orderId": outcome.order_id,
        "fill": outcome.fill,
        "productIds": sorted({line.product_id for line in lines}),
        "lines": [
            {
                "orderItemSeqId": line.order_item_seq_id,
                "productId": line.product_id,
                "quantityRequested": line.quantity_requested,
                "quantityReserved": line.quantity_reserved,
                "quantityNotAvailable": line.quantity_not_available,
                "reservations": [
                    {
                        "inventoryItemId": r.inventory_item_id,
                        "quantity": r.quantity,
                        "quantityNotAvailable": r.quantity_not_available,
                    }
                    for r in line.reservations
                ],
            }
            for line in lines
        ],
    }
