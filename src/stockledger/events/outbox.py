"""Record business events in the outbox, in the caller's transaction (SPEC §7).

Event types: InventoryChanged, StockReserved, ReservationReleased, ShipmentConfirmed,
ReturnReceived, InventoryReset, InventoryImported. The payload is a JSON object with camelCase keys, and
`changeByUserLoginId`: the user the change was made for (core.actor).

On PostgreSQL each number is taken with its fence raised first (events/fence.py), so that
the feed never serves past a number a running transaction may still commit.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.db import Statement, bound, run
from stockledger.core.model_base import utcnow
from stockledger.core.schemas import json_number
from stockledger.core.scope import check_facility
from stockledger.events.fence import fenced_next_value
from stockledger.events.models import OutboxEvent

EVENT_TYPES = frozenset(
    {
        "InventoryChanged",
        "StockReserved",
        "ReservationReleased",
        "ShipmentConfirmed",
        "ReturnReceived",
        "InventoryReset",
        "InventoryImported",  # ledger rows loaded from a seed-format document
    }
)
OUTBOX_SEQUENCE = "outbox_event_seq"
OUTBOX = cast(Table, OutboxEvent.__table__)


@dataclass(frozen=True, slots=True)
class Event:
    """One business event to record: its facility, type and payload."""

    facility_id: str
    event_type: str
    payload: dict[str, Any]


def record_event(session: Session, facility_id: str, event_type: str, payload: dict[str, Any]) -> int:
    """Append one event to the outbox; returns its sequence number."""
    return int(run(session, event_insert(session, facility_id, event_type, payload))[0][0])


def event_insert(session: Session, facility_id: str, event_type: str, payload: dict[str, Any]) -> Statement:
    """The INSERT of one event (… RETURNING event_seq), to run now or with other writes
    (core.db.run_together). The INSERT takes its number itself, fenced (events/fence.py)."""
    values = {
        k.removeprefix("e_"): v for k, v in event_params(session, facility_id, event_type, payload).items()
    }
    next_seq, seq_params = fenced_next_value(session, OUTBOX_SEQUENCE)
    return Statement(_INSERT.format(next_seq=next_seq), {**values, **seq_params})


def event_params(
    session: Session, facility_id: str, event_type: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """One event's values (checked: its type, the caller's facility scope) as `e_`-named driver
    parameters, for `event_insert` or a caller's own statement."""
    if not facility_id.startswith("_"):  # "_ALL": a run over several facilities, each checked
        check_facility(session, facility_id)
    return event_values(session.get_bind().dialect, facility_id, event_type, payload, acting_user(session))


def event_values(
    dialect: Dialect, facility_id: str, event_type: str, payload: dict[str, Any], user: str | None
) -> dict[str, Any]:
    """`event_params` for a caller that has checked the facility scope and found the user itself
    (no Session). The payload gets `changeByUserLoginId: user` when a user is known."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    if user is not None:
        payload = {**payload, "changeByUserLoginId": user}
    values = {
        "facility_id": facility_id,
        "event_type": event_type,
        "payload": json.dumps(payload, default=_json_default, separators=(",", ":")),
        "created_stamp": utcnow(),
    }
    return {f"e_{k}": v for k, v in bound(dialect, OUTBOX, values).items()}


def event_values_around(
    dialect: Dialect,
    facility_id: str,
    event_type: str,
    payload_of: Callable[[str], dict[str, Any]],
    user: str | None,
) -> dict[str, Any]:
    """`event_values` for a payload that names an id only the statement learns (the item a
    reservation posts to): `payload_of(id)` is the payload. Instead of `e_payload`, the JSON
    before and after the id's JSON string (`e_payload_head`, `e_payload_tail`), so that
    `:e_payload_head || to_json(id)::text || :e_payload_tail` is that payload's JSON, byte for byte."""
    values = event_values(dialect, facility_id, event_type, payload_of(_ID), user)
    head, found, tail = values.pop("e_payload").partition(_ID_JSON)
    if not found or _ID_JSON in tail:
        raise ValueError("payload_of must put the id in the payload exactly once")
    return {**values, "e_payload_head": head, "e_payload_tail": tail}


# Stands for the id while the payload is encoded; never sent (a NUL is no id or key of ours).
_ID = "\x00id\x00"
_ID_JSON = json.dumps(_ID)
_COLUMNS = "facility_id, event_seq, event_type, payload, created_stamp"
_INSERT = (
    f"INSERT INTO outbox_event ({_COLUMNS}) "
    "VALUES (:facility_id, {next_seq}, :event_type, :payload, :created_stamp) RETURNING event_seq"
)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return json_number(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
