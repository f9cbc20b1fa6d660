"""DTOs of the event feed; a NATS message body is exactly one feed item."""

from datetime import datetime
from typing import Any

from stockledger.core.schemas import ApiModel
from stockledger.events.feed import FeedEvent
from stockledger.events.outbox import EventType


class EventOut(ApiModel):
    event_seq: int
    event_type: EventType
    facility_id: str
    payload: dict[str, Any]
    created_stamp: datetime


class EventPage(ApiModel):
    """A page of the feed, the shape of every list: `next` goes back as `cursor`; null when the
    page is not full (nothing more is final yet: poll again `after` the last eventSeq)."""

    items: list[EventOut]
    next: str | None


def event_out(event: FeedEvent) -> EventOut:
    return EventOut.model_validate(event)


def event_body(event: FeedEvent) -> bytes:
    """The NATS message body: the same JSON as the event's item in GET /v1/events."""
    return event_out(event).model_dump_json(by_alias=True).encode()
