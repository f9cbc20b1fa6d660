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

The one-statement reservation, where the ledger also finds the item, is ledger/sole_item_pg.py.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import overload

from sqlalchemy.orm import Session

from stockledger.core.db import WriteBehind
from stockledger.core.model_base import utcnow
from stockledger.core.sums import require_summable_items
from stockledger.events.outbox import Event, event_inserts, record_event
from stockledger.ledger.batch import post_batch, post_locked_batch
from stockledger.ledger.postings import Links, LockedItem, Posted, Posting
from stockledger.ledger.reservation_rows import ReservationRow, reservation_statements, upsert_reservations
from stockledger.ledger.single import post_locked, post_one

__all__ = ["Carried", "Held", "Links", "LockedItem", "Posted", "Posting", "ReservationRow", "post"]

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
        diffs = (posting.quantity_on_hand_diff, posting.available_to_promise_diff, posting.accounting_diff)
        totals = (
            after.quantity_on_hand_total,
            after.available_to_promise_total,
            after.accounting_quantity_total,
        )
        if any(abs(total) > abs(total - diff) for total, diff in zip(totals, diffs, strict=True)):
            grown.setdefault(after.facility_id, set()).add(after.inventory_item_id)
    for facility_id, item_ids in grown.items():
        require_summable_items(session, facility_id, item_ids)


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
