"""Record business events in the outbox, in the caller's transaction (SPEC §7).

Event types: InventoryChanged, StockReserved, ReservationReleased, ShipmentConfirmed,
ReturnReceived, InventoryReset. The payload is a JSON object with camelCase keys.

On PostgreSQL the transaction first raises its fence (events/fence.py), so that the feed
never serves past a number a running transaction may still commit.
"""

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from stockledger.core.db import next_sequence_value
from stockledger.core.model_base import utcnow
from stockledger.core.schemas import json_number
from stockledger.core.scope import check_facility
from stockledger.events.fence import is_postgres, raise_fence
from stockledger.events.models import OutboxEvent

EVENT_TYPES = frozenset(
    {
        "InventoryChanged",
        "StockReserved",
        "ReservationReleased",
        "ShipmentConfirmed",
        "ReturnReceived",
        "InventoryReset",
    }
)
OUTBOX_SEQUENCE = "outbox_event_seq"


def record_event(session: Session, facility_id: str, event_type: str, payload: dict[str, Any]) -> int:
    """Append one event to the outbox; returns its sequence number."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    if not facility_id.startswith("_"):  # "_ALL": a run over several facilities, each checked
        check_facility(session, facility_id)
    if is_postgres(session):
        raise_fence(session, OUTBOX_SEQUENCE)
    seq = next_sequence_value(session, OUTBOX_SEQUENCE)
    session.execute(
        insert(OutboxEvent).values(
            facility_id=facility_id,
            event_seq=seq,
            event_type=event_type,
            payload=json.dumps(payload, default=_json_default, separators=(",", ":")),
            created_stamp=utcnow(),
        )
    )
    return seq


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return json_number(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
