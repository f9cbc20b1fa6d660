"""The outbox as a feed: events in sequence order, never skipping one that commits late.

On PostgreSQL the feed serves only up to the number core/fence.py proves final; a
running transaction that recorded events holds the feed back (never loses from it) until
it ends. SQLite serialises writers, so every committed number is final there.
"""

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.fence import final_up_to
from stockledger.events.models import OutboxEvent
from stockledger.events.outbox import OUTBOX_SEQUENCE


@dataclass(frozen=True, slots=True)
class FeedEvent:
    event_seq: int
    event_type: str
    facility_id: str
    payload: dict[str, Any]
    created_stamp: datetime


def read_feed(
    session: Session, after: int, limit: int, within: Collection[str] | None = None
) -> list[FeedEvent]:
    """Up to `limit` events after sequence `after`, as far as the feed is final; `within`: only the
    events of these facilities (a scoped caller's; a run spanning facilities is keyed `_ALL`, not
    theirs), None for all."""
    e = OutboxEvent
    query = select(e).where(e.event_seq > after).order_by(e.event_seq).limit(limit)
    if within is not None:
        query = query.where(e.facility_id.in_(sorted(within)))
    final = final_up_to(session, OUTBOX_SEQUENCE)  # before the snapshot
    if final is not None:
        query = query.where(e.event_seq <= final)
    return [_feed_event(r) for r in session.scalars(query)]


def event_at(session: Session, event_seq: int) -> FeedEvent | None:
    """The outbox event numbered `event_seq`, if there is one."""
    row = session.scalars(select(OutboxEvent).where(OutboxEvent.event_seq == event_seq)).first()
    return None if row is None else _feed_event(row)


def events_at(session: Session, event_seqs: Collection[int]) -> list[FeedEvent]:
    """The outbox events numbered as given (those that exist)."""
    if not event_seqs:
        return []
    rows = session.scalars(select(OutboxEvent).where(OutboxEvent.event_seq.in_(sorted(event_seqs))))
    return [_feed_event(r) for r in rows]


def _feed_event(r: OutboxEvent) -> FeedEvent:
    payload = json.loads(r.payload, parse_float=_number)
    return FeedEvent(r.event_seq, r.event_type, r.facility_id, payload, r.created_stamp)


def _number(text: str) -> float | Decimal:
    """A payload's number: a float, but a Decimal when a float would round it (past 15 digits)."""
    number = float(text)
    return number if len(text) <= 16 or Decimal(repr(number)) == Decimal(text) else Decimal(text)
