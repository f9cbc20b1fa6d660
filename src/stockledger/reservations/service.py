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

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from anyio import to_thread
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility
from stockledger.core.config import at_import
from stockledger.core.db import Database
from stockledger.core.model_base import utcnow
from stockledger.core.scope import FacilityScoped, bind_principal, check_scope
from stockledger.events.outbox import Event
from stockledger.ledger.post import (
    IN_TRANSACTION,
    NOT_SENT,
    Carried,
    Links,
    Posting,
    SoleItemPosted,
    SoleItemReservation,
    post,
    post_sole_item,
    post_sole_item_async,
)
from stockledger.ledger.reservation_rows import ReservationRow
from stockledger.orders.items import claim_order_items, products_of
from stockledger.reservations.backorders import backorder_item
from stockledger.reservations.lines import (
    LineOutcome,
    ReserveLine,
    ReserveOutcome,
    check_lines,
    reserved_events,
    sole_item,
    sole_item_outcome,
)
from stockledger.reservations.planning import line_outcomes, plan_lines, refuse_short_lines
from stockledger.reservations.release import Released, cancel_reservation, release_reservation
from stockledger.reservations.rules import (
    ALL_OR_NOTHING,
    BACKORDER,
    RESERVE_REASON,
    Candidate,
    add_backorder,
    require_fill,
)
from stockledger.reservations.statements import Locked, lock_candidates, require_products

__all__ = [
    "LineOutcome",
    "OpenTransaction",
    "Released",
    "ReserveLine",
    "ReserveOutcome",
    "cancel_reservation",
    "release_reservation",
    "reserve_line",
    "reserve_line_async",
    "reserve_stock",
]

EVENT_LINES: int = at_import("reservation_event_lines")  # lines per StockReserved event

# The caller's way to open its write transaction (the request's core.deps.write_session, a
# command's core.transactions.command_transaction): the caller owns it, commits or rolls back.
OpenTransaction = Callable[[], AbstractContextManager[Session]]


def reserve_stock(
    session: Session,
    order_id: str,
    facility_id: str,
    lines: Sequence[ReserveLine],
    fill: str = ALL_OR_NOTHING,
) -> ReserveOutcome:
    """Reserve every line of an order in the caller's transaction, per the fill policy. One
    line: first the ledger's sole-item reservation, in the transaction (the ledger decides
    whether and how, per database)."""
    require_fill(fill)
    check_lines(lines)
    return _reserve(session, order_id, facility_id, lines, fill, sole_item_first=True)


def reserve_line(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
    *,
    open_transaction: OpenTransaction,
) -> ReserveOutcome:
    """One order item, for `principal`, its caller having no transaction yet (POST
    /v1/reservations without an Idempotency-Key): the ledger writes it from the product's sole
    item alone where it can; else, nothing written, in the transaction `open_transaction`
    opens (the ledger tries the sole item there where it said so: IN_TRANSACTION)."""
    one = _One(db, order_id, facility_id, line, fill, principal, open_transaction)
    reservation, user = one.checked()
    return one.finish(post_sole_item(db, reservation, user))


async def reserve_line_async(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
    *,
    open_transaction: OpenTransaction,
) -> ReserveOutcome:
    """`reserve_line` from the event loop: the sole item's statement on the loop where the
    ledger can send it there (the async pool), anything more in ONE worker-thread hop. The
    ledger answers at once where the statement cannot go alone (SQLite: the general path;
    Citus: its steps in the transaction)."""
    one = _One(db, order_id, facility_id, line, fill, principal, open_transaction)
    reservation, user = one.checked()
    first = await post_sole_item_async(db, reservation, user)
    if isinstance(first, str):
        return sole_item_outcome(order_id, facility_id, fill, line, first)
    if first is NOT_SENT:  # no async connection: the thread hands the ledger the Database
        return await to_thread.run_sync(lambda: one.finish(post_sole_item(db, reservation, user)))
    return await to_thread.run_sync(one.finish, first)


@dataclass(frozen=True, slots=True)
class _One:
    """One order item reserved by a caller with no transaction yet (reserve_line)."""

    db: Database
    order_id: str
    facility_id: str
    line: ReserveLine
    fill: str
    principal: FacilityScoped | None
    open_transaction: OpenTransaction

    def checked(self) -> tuple[SoleItemReservation, str | None]:
        """The line as the ledger's sole-item reservation and who writes it, once the fill, the
        line and the caller's facility scope are checked: the one check of this path."""
        require_fill(self.fill)
        check_lines([self.line])
        check_scope(self.principal, self.facility_id)
        user = self.principal.login_id if self.principal is not None else self.db.user
        return sole_item(self.order_id, self.facility_id, self.line, self.fill), user

    def finish(self, first: SoleItemPosted) -> ReserveOutcome:
        """What the ledger's sole-item door answered: reserved (the item's id), or the general
        path in the transaction opened now, the sole item tried there first if IN_TRANSACTION."""
        if isinstance(first, str):
            return sole_item_outcome(self.order_id, self.facility_id, self.fill, self.line, first)
        with self.open_transaction() as session:
            bind_principal(session, self.principal)
            sole_item_first = first is IN_TRANSACTION
            return _reserve(session, self.order_id, self.facility_id, [self.line], self.fill, sole_item_first)


def _reserve(
    session: Session,
    order_id: str,
    facility_id: str,
    lines: Sequence[ReserveLine],
    fill: str,
    sole_item_first: bool,
) -> ReserveOutcome:
    """The lines, checked by the caller (`fill`, quantities)."""
    if sole_item_first and len(lines) == 1:  # it claims the order item itself
        outcome = _reserve_from_sole_item(session, order_id, facility_id, lines[0], fill)
        if outcome is not None:
            return outcome
    claim_order_items(
        session, facility_id, products_of((order_id, x.order_item_seq_id, x.product_id) for x in lines)
    )
    product_ids = {line.product_id for line in lines}
    candidates, locked = lock_candidates(session, facility_id, product_ids)
    if len(candidates) < len(product_ids):  # a locked item proves its facility and product exist
        require_facility(session, facility_id)
        require_products(session, product_ids - candidates.keys())
    now = utcnow()
    plans = plan_lines(candidates, lines, now)
    if fill == ALL_OR_NOTHING:
        refuse_short_lines(lines, plans)
    if fill == BACKORDER:
        for line, plan in zip(lines, plans, strict=True):
            if plan.short > 0:
                add_backorder(plan, _backorder_item(session, facility_id, line, candidates, now))
    outcome = ReserveOutcome(order_id, facility_id, fill, line_outcomes(lines, plans))
    _write(session, outcome, locked)
    return outcome


def _reserve_from_sole_item(
    session: Session, order_id: str, facility_id: str, line: ReserveLine, fill: str
) -> ReserveOutcome | None:
    """One line of a product with one item in the facility, which covers it: posted, reserved
    and its event recorded by the ledger in the session's transaction, as every fill policy
    would. None: not so (or not on this database): the general path decides, nothing having
    been written."""
    item = post_sole_item(session, sole_item(order_id, facility_id, line, fill))
    return None if item is None else sole_item_outcome(order_id, facility_id, fill, line, item)


def _backorder_item(
    session: Session,
    facility_id: str,
    line: ReserveLine,
    candidates: dict[str, list[Candidate]],
    now: datetime,
) -> str:
    mine = candidates.get(line.product_id, [])
    return backorder_item(session, facility_id, line.product_id, line.lot_id, mine, now, line.allow_expired)


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
    events = [  # one event per order (per 1,000 lines of it, each cut in parts of 64 KB)
        Event(outcome.facility_id, "StockReserved", p) for p in reserved_events(outcome, EVENT_LINES)
    ]
    # The ledger chooses by their count: one take from a locked item, posting, reservation and
    # event in one round trip (PostgreSQL: one statement); several, set-based, not read again.
    post(
        session,
        sorted(postings, key=lambda p: p.inventory_item_id),
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
