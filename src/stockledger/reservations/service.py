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

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility
from stockledger.core.dialects import writes_through_ctes
from stockledger.core.model_base import utcnow
from stockledger.events.outbox import Event
from stockledger.ledger.post import Carried, Links, Posting, post
from stockledger.ledger.reservation_rows import ReservationRow
from stockledger.ledger.sole_item_pg import post_sole_item
from stockledger.orders.items import claim_order_items, products_of
from stockledger.reservations.backorders import backorder_item
from stockledger.reservations.hot import reserve_alone, reserve_line_async
from stockledger.reservations.lines import (
    LineOutcome,
    ReservedFrom,
    ReserveLine,
    ReserveOutcome,
    check_lines,
    reserved_event,
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
    chunks,
    require_fill,
)
from stockledger.reservations.statements import Locked, lock_candidates, require_products

__all__ = [
    "LineOutcome",
    "Released",
    "ReserveLine",
    "ReserveOutcome",
    "ReservedFrom",
    "cancel_reservation",
    "release_reservation",
    "reserve_alone",
    "reserve_line_async",
    "reserve_stock",
]

EVENT_LINES = 1_000


def reserve_stock(
    session: Session,
    order_id: str,
    facility_id: str,
    lines: Sequence[ReserveLine],
    fill: str = ALL_OR_NOTHING,
    *,
    try_sole_item: bool = True,
) -> ReserveOutcome:
    """Reserve every line of an order in the caller's transaction, per the fill policy.
    `try_sole_item` (one line, where the database `writes_through_ctes`): first the ledger's one
    statement, in the transaction; False when the caller has tried it alone already
    (`reserve_alone`: it returned no row, writing nothing)."""
    return _reserve(session, order_id, facility_id, lines, fill, try_sole_item)


def _reserve(
    session: Session,
    order_id: str,
    facility_id: str,
    lines: Sequence[ReserveLine],
    fill: str,
    try_sole_item: bool,
) -> ReserveOutcome:
    require_fill(fill)
    check_lines(lines)
    if try_sole_item and len(lines) == 1 and writes_through_ctes(session):  # it claims the order item itself
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
    and its event recorded in ONE statement in the session's transaction (PostgreSQL), as every
    fill policy would. None: not so: the general path decides, nothing having been written."""
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
    reserved = [line for line in outcome.lines if line.reservations]
    events = [  # one event per order (per 1,000 lines of it)
        Event(outcome.facility_id, "StockReserved", reserved_event(outcome, part))
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
