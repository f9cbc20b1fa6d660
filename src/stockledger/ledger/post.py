"""THE write path: the one door through which every change of an inventory item's totals goes.

Callers hand `post` typed postings (ledger/postings.py) and, for a reservation, what its
postings carry (reservation rows, events); never SQL. The ledger chooses how to write them,
always the same rows: each posting becomes the item's new totals and one detail row, in the
caller's transaction, so for every item: totals == sum of its detail diffs.

  * one posting: a guarded UPDATE … RETURNING, then its detail row (ledger/single.py);
  * one posting on an item the transaction holds (locked and read): item, detail row and what
    it carries in one round trip (PostgreSQL: one statement);
  * several: set-based (ledger/batch.py), the items read under row locks unless held as read;
    a list of one is one posting (chosen by the count);
  * several on items held by their detail sequence alone, one facility, PostgreSQL: two
    statements from arrays, guarded by the database;
  * inside the transaction's `with WriteBehind(session)` block (core.write_behind.writes_behind,
    PostgreSQL): the batch's statements are sent and not waited for;
  * a StagedPostings (postings a bulk caller computed in the database, as typed SELECTs; the
    ERP reset): set-based in the database (ledger/staged_pg.py, where
    core.dialects.stages_set_based; ledger/staged_sqlite.py where the database also
    serialises_writers), the guards the postings carry applied as for any posting.

The one-statement reservation, where the ledger also finds the item (`post_sole_item`, given
a typed SoleItemReservation; its SQL in ledger/sole_item_pg.py), comes in by this door too. The
caller hands the ledger its Session (a transaction is open) or its Database (none yet), and
the ledger chooses:

  * a Database where it runs a change alone (PostgreSQL): the one statement committed alone,
    in autocommit (`post_sole_item_async`: on the event loop's pool);
  * a Session on PostgreSQL: the one statement in that transaction; on Citus, its steps, each
    on the facility's shard (ledger/sole_item_steps_pg.py);
  * otherwise nothing is sent, answered at once from what the database is: None where the
    statement cannot be used (SQLite: the general path, lock, plan, `post`), IN_TRANSACTION where
    its steps need a transaction (Citus: open one and hand the ledger the Session), NOT_SENT from
    the event loop with no async connection at hand (hand the ledger the Database in a thread).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Final, Literal, overload

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.citus import shards_by_facility
from stockledger.core.db import Database
from stockledger.core.dialects import serialises_writers, stages_set_based, writes_through_ctes
from stockledger.core.errors import OrderItemConflict
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_facility
from stockledger.core.statements import run, violates_not_null
from stockledger.core.sums import require_summable_items
from stockledger.core.write_behind import WriteBehind, writes_behind
from stockledger.events.outbox import Event, event_inserts, record_event
from stockledger.ledger.batch import post_batch, post_locked_batch
from stockledger.ledger.postings import Links, LockedItem, Posted, Posting
from stockledger.ledger.reservation_rows import ReservationRow, reservation_statements, upsert_reservations
from stockledger.ledger.single import post_locked, post_one
from stockledger.ledger.sole_item_pg import SoleItemReservation, sole_item_statement
from stockledger.ledger.sole_item_steps_pg import post_in_steps
from stockledger.ledger.staged_pg import StagedPosted, StagedPostings, post_staged
from stockledger.ledger.staged_sqlite import post_staged_serialised

__all__ = [
    "IN_TRANSACTION",
    "NOT_SENT",
    "Carried",
    "Held",
    "Links",
    "LockedItem",
    "Posted",
    "Posting",
    "ReservationRow",
    "SoleItemPosted",
    "SoleItemReservation",
    "StagedPosted",
    "StagedPostings",
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
def post(session: Session, postings: StagedPostings) -> StagedPosted: ...


@overload
def post(
    session: Session,
    postings: Sequence[Posting],
    *,
    held: Held | None = None,
    carried: Carried | None = None,
) -> list[Posted]: ...


def post(
    session: Session,
    postings: Posting | Sequence[Posting] | StagedPostings,
    *,
    held: Held | None = None,
    carried: Carried | None = None,
) -> Posted | list[Posted] | StagedPosted:
    """Apply the postings in the order given (callers give several in item id order: the lock
    order) with what they carry, in the session's transaction; the totals right after each.
    Refused (InsufficientStock, NegativeStock, NotFound): the postings before it may be written,
    so the caller's transaction rolls back. StagedPostings (postings computed in the database,
    as typed SELECTs): posted set-based, their guards applied as every posting's; what was
    posted (StagedPosted: the number of detail rows written, and the rows to read them from)."""
    if isinstance(postings, StagedPostings):
        if not stages_set_based(session):
            raise RuntimeError("staged postings need a database that stages set-based (core.dialects)")
        if serialises_writers(session):  # no row lock needed, the database's own SQL
            return post_staged_serialised(session, postings)
        return post_staged(session, postings)
    if isinstance(postings, Posting):
        one = _post_one(session, postings, held or {}, carried)
        _require_summable(session, [(postings, one)])
        return one
    writes = writes_behind(session)  # the transaction's open WriteBehind block, if any
    if len(postings) == 1 and writes is None:  # chosen by the count: a list of one is one posting
        return [post(session, postings[0], held=held, carried=carried)]
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
    IN_TRANSACTION = "in a transaction"


# Nothing sent, nothing written: the sole-item reservation needs what the caller did not hand
# the ledger. NOT_SENT: a thread off the event loop (hand the ledger the Database there);
# IN_TRANSACTION: a transaction (open one and hand the ledger its Session).
NOT_SENT: Final = _Unsent.NOT_SENT
IN_TRANSACTION: Final = _Unsent.IN_TRANSACTION
SoleItemPosted = str | None | Literal[_Unsent.IN_TRANSACTION]
SoleItemPostedAsync = SoleItemPosted | Literal[_Unsent.NOT_SENT]


@overload
def post_sole_item(on: Session, reservation: SoleItemReservation) -> str | None: ...


@overload
def post_sole_item(on: Database, reservation: SoleItemReservation, user: str | None) -> SoleItemPosted: ...


def post_sole_item(
    on: Session | Database, reservation: SoleItemReservation, user: str | None = None
) -> SoleItemPosted:
    """The reservation from its product's sole item: the item's id, or None having written
    nothing (the general path decides; at once where the statement cannot be used: SQLite), or
    IN_TRANSACTION (a Database that runs no change alone, Citus: hand the ledger a Session). A
    Session: in its transaction, for its user (an order item claimed for another product
    meanwhile: 409 order_item_conflict). A Database: committed alone, for `user` (the caller
    has checked the facility scope; another product having won the order item meanwhile: None)."""
    if isinstance(on, Session):
        return _in_transaction(on, reservation)
    unsendable = _unsendable(on)
    if unsendable is not NOT_SENT:
        return unsendable
    try:
        rows = on.run_alone(sole_item_statement(on.engine, reservation, user))
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        return None
    return str(rows[0][0]) if rows else None


async def post_sole_item_async(
    db: Database, reservation: SoleItemReservation, user: str | None
) -> SoleItemPostedAsync:
    """`post_sole_item` of a Database on the event loop (its async pool), answered at once where
    the statement cannot be sent alone (None: SQLite; IN_TRANSACTION: Citus). NOT_SENT: the pool
    is not open, or had no connection in time: hand the ledger the Database in a worker thread."""
    unsendable = _unsendable(db)
    if unsendable is not NOT_SENT:
        return unsendable
    if db.async_pool is None:
        return NOT_SENT
    # loaded by db.open_async; not at this module's import, which `stockledger reset` makes too
    from stockledger.core.async_pool import AsyncPoolUnavailable

    try:
        rows = await db.run_alone_async(sole_item_statement(db.engine, reservation, user))
    except AsyncPoolUnavailable:
        return NOT_SENT
    except IntegrityError as error:
        if not lost_claim(error):
            raise
        return None
    return str(rows[0][0]) if rows else None


def _unsendable(db: Database) -> Literal[_Unsent.IN_TRANSACTION, _Unsent.NOT_SENT] | None:
    """Why the sole-item statement cannot go alone on `db`, or NOT_SENT where it can: None, the
    writes would be several statements (the general path does them); IN_TRANSACTION, its
    steps need the caller's transaction (Citus)."""
    if not writes_through_ctes(db.engine):
        return None
    return NOT_SENT if db.runs_alone else IN_TRANSACTION


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
    return violates_not_null(error, "order_item", "product_id")
