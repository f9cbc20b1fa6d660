"""THE write path: the one door through which every change of an inventory item's totals goes.

Callers hand `post` typed postings (ledger/postings.py) and, for a reservation, what its
postings carry (reservation rows, events); never SQL. The ledger chooses how to write them,
always the same rows: each posting becomes the item's new totals and one detail row, in the
caller's transaction, so for every item: totals == sum of its detail diffs.

  * one posting: a guarded UPDATE … RETURNING, then its detail row (ledger/single.py);
  * one posting on an item the transaction holds (locked and read): item, detail row and what
    it carries in one round trip (PostgreSQL: one statement);
  * several: set-based (ledger/batch.py), the items read under row locks unless held as read;
  * several on items held by their detail sequence alone, one facility, PostgreSQL: two
    statements from arrays, guarded by the database;
  * `writes` given (PostgreSQL): the batch's statements are sent and not waited for
    (core.db.WriteBehind).

The one-statement reservation, where the ledger also finds the item (`post_sole_item`, given
a typed SoleItemReservation; its SQL in ledger/sole_item_pg.py), comes in by this door too. The
caller hands the ledger its Session (a transaction is open) or its Database (none yet), and
the ledger chooses:

  * a Database where it runs a change alone (PostgreSQL): the one statement committed alone,
    in autocommit (`post_sole_item_async`: on the event loop's pool);
  * a Session on PostgreSQL: the one statement in that transaction; on Citus, its steps, each
    on the facility's shard (ledger/sole_item_steps_pg.py);
  * otherwise nothing is sent: NOT_SENT (no transaction to write in: open one and hand it the
    Session) or None (the general path: lock, plan, `post`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Literal, overload

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.citus import shards_by_facility
from stockledger.core.db import AsyncPoolUnavailable, Database, WriteBehind, run
from stockledger.core.dialects import writes_through_ctes
from stockledger.core.errors import OrderItemConflict
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_facility
from stockledger.core.sums import require_summable_items
from stockledger.events.outbox import Event, event_inserts, record_event
from stockledger.ledger.batch import post_batch, post_locked_batch
from stockledger.ledger.postings import Links, LockedItem, Posted, Posting
from stockledger.ledger.reservation_rows import ReservationRow, reservation_statements, upsert_reservations
from stockledger.ledger.single import post_locked, post_one
from stockledger.ledger.sole_item_pg import SoleItemReservation, sole_item_statement
from stockledger.ledger.sole_item_steps_pg import claim_lost_on_a_shard, post_in_steps

__all__ = [
    "NOT_SENT",
    "Carried",
    "Held",
    "Links",
    "LockedItem",
    "Posted",
    "Posting",
    "ReservationRow",
    "SoleItemReservation",
    "post",
    "post_sole_item",
    "post_sole_item_async",
]

# Items this transaction has locked and read: (facility, item) → the row as read (QOH, ATP,
# accounting quantity, last_detail_seq) or its last_detail_seq alone.
Held = Mapping[tuple[str, str], LockedItem | int]


@dataclass(frozen=True, slots=True)
class Carried:
    """What postings carry, written with them: a reservation's rows (in key order) and events."""

    reservations: Sequence[ReservationRow] = ()
    events: Sequence[Event] = ()


@overload
def post(
    session: Session, postings: Posting, *, held: Held | None = None, carried: Carried | None = None
) -> Posted: ...


@overload
def post(
    session: Session,
    postings: Sequence[Posting],
    *,
    held: Held | None = None,
    carried: Carried | None = None,
    writes: WriteBehind | None = None,
) -> list[Posted]: ...


def post(
    session: Session,
    postings: Posting | Sequence[Posting],
    *,
    held: Held | None = None,
    carried: Carried | None = None,
    writes: WriteBehind | None = None,
) -> Posted | list[Posted]:
    """Apply the postings in the order given (callers give several in item id order: the lock
    order) with what they carry, in the session's transaction; the totals right after each.
    Refused (InsufficientStock, NegativeStock, NotFound): the postings before it may be written,
    so the caller's transaction rolls back."""
    if isinstance(postings, Posting):
        one = _post_one(session, postings, held or {}, carried)
        _require_summable(session, [(postings, one)])
        return one
    posted = _post_many(session, postings, held or {}, writes)
    if carried is not None:
        _write_carried(session, carried)
    _require_summable(session, list(zip(postings, posted, strict=True)))
    return posted


def _require_summable(session: Session, done: Sequence[tuple[Posting, Posted]]) -> None:
    """SQLite: the products of the items whose totals grew still add up (core.sums); a write
    that only shrinks totals (a count of a product past the bound) is always let through."""
    grown: dict[str, set[str]] = {}
    for posting, after in done:
        if (
            _grew(after.quantity_on_hand_total, posting.quantity_on_hand_diff)
            or _grew(after.available_to_promise_total, posting.available_to_promise_diff)
            or _grew(after.accounting_quantity_total, posting.accounting_diff)
        ):
            grown.setdefault(after.facility_id, set()).add(after.inventory_item_id)
    for facility_id, item_ids in grown.items():
        require_summable_items(session, facility_id, item_ids)


def _grew(total: Decimal, diff: Decimal) -> bool:
    """Whether a total moved away from zero by `diff` (a zero diff moved nothing)."""
    return bool(diff) and abs(total) > abs(total - diff)


def _post_one(session: Session, posting: Posting, held: Held, carried: Carried | None) -> Posted:
    read = held.get((posting.facility_id, posting.inventory_item_id))
    if read is None:
        posted = post_one(session, posting)
        if carried is not None:
            _write_carried(session, carried)
        return posted
    last_detail_seq = read if isinstance(read, int) else read[3]
    if carried is None:
        return post_locked(session, posting, last_detail_seq)
    now = utcnow()  # the detail row's stamp, not later than its events'
    events = [
        s for e in carried.events for s in event_inserts(session, e.facility_id, e.event_type, e.payload)
    ]
    rows = reservation_statements(session, carried.reservations)
    return post_locked(session, posting, last_detail_seq, *rows, *events, now=now)


def _post_many(
    session: Session, postings: Sequence[Posting], held: Held, writes: WriteBehind | None
) -> list[Posted]:
    keys = {(p.facility_id, p.inventory_item_id) for p in postings}
    by_seq = {key: read for key, read in held.items() if isinstance(read, int)}
    if writes is None and keys and keys <= by_seq.keys() and len({f for f, _ in keys}) == 1:
        return post_locked_batch(session, postings, {item: by_seq[(f, item)] for f, item in keys})
    as_read = {key: read for key, read in held.items() if not isinstance(read, int)}
    return post_batch(session, postings, as_read or None, writes)


def _write_carried(session: Session, carried: Carried) -> None:
    upsert_reservations(session, carried.reservations)
    for event in carried.events:
        record_event(session, event.facility_id, event.event_type, event.payload)


class _Unsent(Enum):
    NOT_SENT = "not sent"


# Nothing sent, nothing written: the sole-item reservation needs what the caller did not hand
# the ledger (a transaction, or a thread off the event loop): hand it again with that.
NOT_SENT = _Unsent.NOT_SENT
SoleItemPosted = str | None | Literal[_Unsent.NOT_SENT]


@overload
def post_sole_item(on: Session, reservation: SoleItemReservation) -> str | None: ...


@overload
def post_sole_item(on: Database, reservation: SoleItemReservation, user: str | None) -> SoleItemPosted: ...


def post_sole_item(
    on: Session | Database, reservation: SoleItemReservation, user: str | None = None
) -> SoleItemPosted:
    """The reservation from its product's sole item: the item's id, or None having written
    nothing (the general path decides), or NOT_SENT (a Database that runs no change alone:
    hand the ledger a Session). A Session: in its transaction, for its user (an order item
    claimed for another product meanwhile: 409 order_item_conflict). A Database: committed
    alone, for `user` (the caller has checked the facility scope; another product having won
    the order item meanwhile: None)."""
    if isinstance(on, Session):
        return _in_transaction(on, reservation)
    if not on.runs_alone:
        return NOT_SENT
    try:
        rows = on.run_alone(sole_item_statement(on.engine, reservation, user))
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        return None
    return str(rows[0][0]) if rows else None


async def post_sole_item_async(
    db: Database, reservation: SoleItemReservation, user: str | None
) -> SoleItemPosted:
    """`post_sole_item` of a Database on the event loop (its async pool). NOT_SENT: the pool is
    not open, or had no connection in time, or the database runs no change alone: hand the
    ledger the Database in a worker thread (or a Session)."""
    if db.async_pool is None or not db.runs_alone:
        return NOT_SENT
    try:
        rows = await db.run_alone_async(sole_item_statement(db.engine, reservation, user))
    except AsyncPoolUnavailable:
        return NOT_SENT
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        return None
    return str(rows[0][0]) if rows else None


def _in_transaction(session: Session, reservation: SoleItemReservation) -> str | None:
    if not writes_through_ctes(session):
        return None  # the writes would be several statements: the general path does them
    check_facility(session, reservation.facility_id)
    try:
        if shards_by_facility(session):
            return post_in_steps(session, reservation)
        rows = run(session, sole_item_statement(session, reservation, acting_user(session)))
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        raise OrderItemConflict(
            f"Order item {reservation.order_id}/{reservation.order_item_seq_id} was claimed for "
            "another product meanwhile",
            orderId=reservation.order_id,
            orderItemSeqId=reservation.order_item_seq_id,
            requestedProductId=reservation.product_id,
        ) from error
    return str(rows[0][0]) if rows else None


def lost_claim(error: Exception) -> bool:
    """The error the sole-item reservation's claim raises when another product won the order item."""
    diag = getattr(getattr(error, "orig", None), "diag", None)
    if getattr(diag, "table_name", None) == "order_item":
        return getattr(diag, "column_name", None) == "product_id"
    return claim_lost_on_a_shard(error)
