"""reserveStock / createOrderItemInventoryReservation: promise ATP to order items, FEFO.

Lock order (no deadlocks between concurrent orders): every candidate item of the whole order
is locked first, in (facility, inventoryItemId) order, then the lines are planned on the
locked ATP, and the postings are written in the same order by `post_batch` (a single posting
by `post`; each guarded: ATP − n only if ATP ≥ n). Because the plan is made under the locks,
a guarded posting cannot lose a race; should it be refused anyway, InsufficientStock rolls
the whole order back. A race therefore never re-plans a line: ALL_OR_NOTHING answers 409
with every short line, PARTIAL and BACKORDER see exactly the ATP that the locks froze. Items
created after the candidate read (a new lot received meanwhile) are simply not used by this order.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility
from stockledger.core.actor import acting_user
from stockledger.core.db import (
    Database,
    Statement,
    array_literal,
    bound,
    fetched_rows,
    from_arrays,
    is_postgres,
    locking,
    run,
    upsert,
)
from stockledger.core.errors import InsufficientStock, NotFound, OrderItemConflict, ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.core.scope import FacilityScoped, bind_principal, check_facility, check_scope
from stockledger.events.outbox import event_insert, event_insert_from, event_values, record_event
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation, Product
from stockledger.ledger.post import (
    Links,
    Posting,
    SoleItem,
    post,
    post_batch,
    post_locked,
    post_locked_batch,
    sole_item_ctes,
    sole_item_params,
)
from stockledger.orders.items import claim_from, claim_order_items, claim_params, lost_claim, products_of
from stockledger.reservations.backorders import backorder_item
from stockledger.reservations.planning import plan_lines
from stockledger.reservations.release import Released, cancel_reservation, release_reservation
from stockledger.reservations.rules import (
    ALL_OR_NOTHING,
    BACKORDER,
    INV_AVAILABLE,
    RES_ACTIVE,
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

RES = cast(Table, OrderItemInventoryReservation.__table__)
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
        statement = _checked_sole_item_statement(db, order_id, facility_id, line, fill, principal)
        outcome = _sole_item_outcome(order_id, facility_id, fill, line, _alone(db.run_alone, statement))
        if outcome is not None:
            return outcome
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
    statement = _checked_sole_item_statement(db, order_id, facility_id, line, fill, principal)
    try:
        rows = await db.run_alone_async(statement)
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        rows = []  # another product won the order item meanwhile: nothing written
    return _sole_item_outcome(order_id, facility_id, fill, line, rows)


def _alone(
    run_alone: Callable[[Statement], list[tuple[Any, ...]]], statement: Statement
) -> list[tuple[Any, ...]]:
    """The sole-item statement as a transaction of its own; no row when it wrote nothing,
    including when another product won the order item meanwhile (its claim aborted it)."""
    try:
        return run_alone(statement)
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        return []


def _checked_sole_item_statement(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str,
    principal: FacilityScoped | None,
) -> Statement:
    """The sole-item statement to run alone, once the fill, the line and the caller's facility
    scope are checked (a Session's path checks them as it goes)."""
    require_fill(fill)
    _check_lines([line])
    check_scope(principal, facility_id)
    user = principal.login_id if principal is not None else db.user
    return _sole_item_statement(db.engine.dialect, order_id, facility_id, line, fill, user)


def _sole_item_outcome(
    order_id: str, facility_id: str, fill: str, line: ReserveLine, rows: Sequence[tuple[Any, ...]]
) -> ReserveOutcome | None:
    """What the sole-item statement did: the line reserved whole from the item it returns, or
    None (no row: nothing written)."""
    if not rows:
        return None
    return ReserveOutcome(order_id, facility_id, fill, [_whole_line(line, rows[0][0])])


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
    check_facility(session, facility_id)
    dialect = session.get_bind().dialect
    try:
        rows = run(
            session, _sole_item_statement(dialect, order_id, facility_id, line, fill, acting_user(session))
        )
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        raise OrderItemConflict(
            f"Order item {order_id}/{line.order_item_seq_id} was claimed for another product meanwhile",
            orderId=order_id,
            orderItemSeqId=line.order_item_seq_id,
            requestedProductId=line.product_id,
        ) from error
    return _sole_item_outcome(order_id, facility_id, fill, line, rows)


def _sole_item_statement(
    dialect: Dialect, order_id: str, facility_id: str, line: ReserveLine, fill: str, user: str | None
) -> Statement:
    """The sole-item statement (PostgreSQL): returns the item's id, or no row having written
    nothing. The caller has checked the facility scope; `user` did it (core.actor)."""
    fit = SoleItem(
        facility_id,
        line.product_id,
        line.lot_id,
        line.quantity,
        RESERVE_REASON,
        Links(order_id=order_id, order_item_seq_id=line.order_item_seq_id, change_by_user_login_id=user),
        line.allow_expired,
    )
    outcome = ReserveOutcome(order_id, facility_id, fill, [_whole_line(line, _ITEM_MARK)])
    (reservation,) = _rows(outcome)
    del reservation["inventory_item_id"]
    params = {
        **sole_item_params(dialect, fit),
        **{f"r_{k}": v for k, v in bound(dialect, RES, reservation).items()},
        **event_values(dialect, facility_id, "StockReserved", _event(outcome, outcome.lines), user),
        **claim_params(dialect, facility_id, order_id, line.order_item_seq_id, line.product_id),
        "item_mark": _ITEM_MARK_JSON,
    }
    return Statement(_sole_item_sql(fit), params)


def _whole_line(line: ReserveLine, item_id: str) -> LineOutcome:
    reserved = [ReservedFrom(item_id, line.quantity, ZERO)]
    return LineOutcome(line.order_item_seq_id, line.product_id, line.lot_id, line.quantity, reserved)


# The event payload is built before the item is known: a mark stands for its id, and the
# statement puts the id in. The mark's JSON ("\u0000", escaped by json.dumps) right after the
# key cannot come from data: a key is ours, and a NUL never reaches the database as text.
_ITEM_MARK = "\x00"
_ITEM_MARK_JSON = '"inventoryItemId":"\\u0000"'
_SOLE_ITEM_SQL: dict[str, str] = {}


def _sole_item_sql(fit: SoleItem) -> str:
    ctes = sole_item_ctes(fit)
    sql = _SOLE_ITEM_SQL.get(ctes)
    if sql is None:
        reserve_columns = [c for c in _UPSERT_COLUMNS if c != "inventory_item_id"]
        event = event_insert_from(
            "posted",
            "replace(:e_payload, :item_mark, '\"inventoryItemId\":' || to_json(inventory_item_id)::text)",
        )
        sql = _SOLE_ITEM_SQL[ctes] = (
            f"WITH {ctes}, "
            "reserved AS (INSERT INTO order_item_inventory_reservation (inventory_item_id, "
            f"{', '.join(reserve_columns)}) SELECT inventory_item_id, "
            f"{', '.join(':r_' + c for c in reserve_columns)} FROM posted {_ON_CONFLICT}), "
            f"event AS ({event}), "
            f"claimed AS ({claim_from('posted')}) "
            "SELECT inventory_item_id FROM posted"
        )
    return sql


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
    if len(postings) == 1 and postings[0].inventory_item_id in locked:
        # The usual case, one take from a locked item: posting, reservation and event in one
        # round trip (PostgreSQL: one statement).
        line = next(line for line in outcome.lines if line.reservations)
        now = utcnow()  # the detail row's stamp, not later than its event's
        event = event_insert(session, outcome.facility_id, "StockReserved", _event(outcome, [line]))
        post_locked(
            session,
            postings[0],
            locked[postings[0].inventory_item_id],
            *_reservation_rows(session, outcome),
            event,
            now=now,
        )
        return
    if len(postings) == 1:  # one guarded UPDATE … RETURNING: the item is locked already, no re-read
        post(session, postings[0])
    elif all(p.inventory_item_id in locked for p in postings):  # every take from a locked item
        post_locked_batch(session, sorted(postings, key=lambda p: p.inventory_item_id), locked)
    else:  # a backorder on an item created or found after the lock: post_batch locks it too
        post_batch(session, sorted(postings, key=lambda p: (p.facility_id, p.inventory_item_id)))
    _upsert_reservations(session, outcome)
    reserved = [line for line in outcome.lines if line.reservations]
    for part in chunks(reserved, EVENT_LINES):  # one event per order (per 1,000 lines of it)
        record_event(session, outcome.facility_id, "StockReserved", _event(outcome, part))


def _upsert_reservations(session: Session, outcome: ReserveOutcome) -> None:
    """One row per (facility, order, item seq, inventory item): an active row grows, an ended
    one (cancelled or fulfilled) starts again with this reservation."""
    rows = _rows(outcome)
    if len(rows) == 1:
        run(session, _reservation_rows(session, outcome)[0])
    elif rows and is_postgres(session):  # one statement from arrays, however many rows
        select_rows, params = from_arrays(session, RES, rows)
        columns = ", ".join(rows[0])
        upsert_rows = f"INSERT INTO order_item_inventory_reservation ({columns}) {select_rows} {_ON_CONFLICT}"
        run(session, Statement(upsert_rows, params))
    elif rows:
        session.execute(_reservation_upsert(session), rows)  # executemany: multi-row INSERTs


def _reservation_rows(session: Session, outcome: ReserveOutcome) -> list[Statement]:
    return [Statement(_UPSERT_ONE, bound(session, RES, row)) for row in _rows(outcome)]


def _rows(outcome: ReserveOutcome) -> list[dict[str, Any]]:
    now = utcnow()
    return sorted(
        (
            {
                "facility_id": outcome.facility_id,
                "order_id": outcome.order_id,
                "order_item_seq_id": line.order_item_seq_id,
                "inventory_item_id": r.inventory_item_id,
                "product_id": line.product_id,
                "quantity": r.quantity,
                "quantity_not_available": r.quantity_not_available,
                "reserved_datetime": now,
                "status_id": RES_ACTIVE,
                "status_datetime": now,
            }
            for line in outcome.lines
            for r in line.reservations
        ),
        key=lambda row: (row["order_item_seq_id"], row["inventory_item_id"]),
    )


def _reservation_upsert(session: Session) -> Any:
    """Per dialect, built once (building `.excluded` on every call cost ≈ 0.3 ms)."""
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        stmt = upsert(session, RES)
        stmt = _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["facility_id", "order_id", "order_item_seq_id", "inventory_item_id"],
            set_=_reactivate(stmt.excluded),
        )
    return stmt


_UPSERTS: dict[str, Any] = {}
# The same upsert for one row as a lean statement (the same SQL on both databases).
_UPSERT_COLUMNS = (
    "facility_id",
    "order_id",
    "order_item_seq_id",
    "inventory_item_id",
    "product_id",
    "quantity",
    "quantity_not_available",
    "reserved_datetime",
    "status_id",
    "status_datetime",
)
_ACTIVE = f"order_item_inventory_reservation.status_id = '{RES_ACTIVE}'"
_ON_CONFLICT = (
    "ON CONFLICT (facility_id, order_id, order_item_seq_id, inventory_item_id) DO UPDATE SET "
    f"quantity = CASE WHEN {_ACTIVE} THEN order_item_inventory_reservation.quantity + excluded.quantity "
    "ELSE excluded.quantity END, "
    f"quantity_not_available = CASE WHEN {_ACTIVE} "
    "THEN order_item_inventory_reservation.quantity_not_available + excluded.quantity_not_available "
    "ELSE excluded.quantity_not_available END, "
    f"reserved_datetime = CASE WHEN {_ACTIVE} THEN order_item_inventory_reservation.reserved_datetime "
    "ELSE excluded.reserved_datetime END, "
    f"status_datetime = CASE WHEN {_ACTIVE} THEN order_item_inventory_reservation.status_datetime "
    "ELSE excluded.status_datetime END, "
    f"status_id = '{RES_ACTIVE}'"
)
_UPSERT_ONE = (
    f"INSERT INTO order_item_inventory_reservation ({', '.join(_UPSERT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _UPSERT_COLUMNS)}) {_ON_CONFLICT}"
)


def _reactivate(new: Any) -> dict[str, Any]:
    active = RES.c.status_id == RES_ACTIVE
    return {
        "quantity": case((active, RES.c.quantity + new.quantity), else_=new.quantity),
        "quantity_not_available": case(
            (active, RES.c.quantity_not_available + new.quantity_not_available),
            else_=new.quantity_not_available,
        ),
        "reserved_datetime": case((active, RES.c.reserved_datetime), else_=new.reserved_datetime),
        "status_datetime": case((active, RES.c.status_datetime), else_=new.status_datetime),
        "status_id": RES_ACTIVE,
    }


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
