"""DTOs of the event feed; a NATS message body is exactly one feed item."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import field_serializer

from stockledger.core.exact_marks import exact_numbers
from stockledger.core.quantities import json_number
from stockledger.core.schemas import ApiModel
from stockledger.events.feed import FeedEvent
from stockledger.events.outbox import EventType


class EventOut(ApiModel):
    event_seq: int
    event_type: EventType
    facility_id: str
    payload: dict[str, Any]
    created_stamp: datetime

    @field_serializer("payload", when_used="json")
    def _exact_payload(self, payload: dict[str, Any]) -> Any:
        """Numbers a float would round (feed._number) leave exact, as every quantity does."""
        return _numbers(payload)


def _numbers(node: Any) -> Any:
    if isinstance(node, Decimal):
        return json_number(node)
    if isinstance(node, dict):
        return {key: _numbers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_numbers(value) for value in node]
    return node


class EventPage(ApiModel):
    """A page of the feed, the shape of every list: `next` goes back as `cursor`; null when the
    page is not full (nothing more is final yet: poll again `after` the last eventSeq)."""

    items: list[EventOut]
    next: str | None


def event_out(event: FeedEvent) -> EventOut:
    return EventOut.model_validate(event)


def event_body(event: FeedEvent) -> bytes:
    """The NATS message body: the same JSON as the event's item in GET /v1/events."""
    return exact_numbers(event_out(event).model_dump_json(by_alias=True).encode())
