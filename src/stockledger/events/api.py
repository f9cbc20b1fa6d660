"""Route of the outbox feed: GET /v1/events (?cursor=NEXT, or ?after=SEQ to start at a position)."""

from typing import Annotated

from fastapi import APIRouter, Query

from stockledger.core.deps import ReadSession
from stockledger.core.pagination import Cursor, Limit, decode_cursor, encode_cursor
from stockledger.core.scope import facilities_in_scope
from stockledger.events.feed import read_feed
from stockledger.events.schemas import EventPage, event_out

router = APIRouter(prefix="/v1", tags=["events"])
MAX_SEQ = 2**63 - 1  # eventSeq is a BIGINT: a larger `after` is bad input, not a database error


@router.get("/events", response_model=EventPage, summary="The outbox feed, in sequence order")
def list_events(
    session: ReadSession,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="Start after this eventSeq (a position kept by a consumer); `cursor` wins",
        ),
    ] = 0,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> EventPage:
    """Events after `after` (or after the page `cursor` ends), oldest first; only as far as no
    smaller eventSeq can still commit. A token scoped to facilities sees only the events of its
    facilities."""
    start = int((decode_cursor(cursor, int, max_int=MAX_SEQ) or [after])[0])
    events = read_feed(session, start, limit, within=facilities_in_scope(session))
    nxt = encode_cursor([events[-1].event_seq]) if len(events) == limit else None
    return EventPage(items=[event_out(e) for e in events], next=nxt)
