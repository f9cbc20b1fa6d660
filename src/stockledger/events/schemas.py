"""DTOs of the event feed; a NATS message body is exactly one feed item."""

from datetime import datetime
from typing import Any

from stockledger.core.schemas import ApiModel
from stockledger.events.feed import FeedEvent


class EventOut(ApiModel):
    event_seq: int
    event_type: str
    facility_id: str
    payload: dict[str, Any]
    created_stamp: datetime


class EventPage(ApiModel):
    items: list[EventOut]
    next: int | None  # pass as `after` for the next page; null: nothing more is final yet


def event_out(event: FeedEvent) -> EventOut:
    return EventOut.model_validate(event)


def event_body(event: FeedEvent) -> bytes:
    """The NATS message body: the same JSON as the event's item in GET /v1/events."""
    return event_out(event).model_dump_json(by_alias=True).encode()
