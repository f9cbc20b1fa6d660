"""Record business events in the outbox, in the caller's transaction (SPEC §7).

Event types: InventoryChanged, StockReserved, ReservationReleased, ShipmentConfirmed,
ReturnReceived, InventoryReset, InventoryImported. The payload is a JSON object with camelCase keys, and
`changeByUserLoginId`: the user the change was made for (core.actor).

On PostgreSQL each number is taken with its fence raised first (events/fence.py), so that
the feed never serves past a number a running transaction may still commit.
"""

import json
from decimal import Decimal
from enum import StrEnum
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


class EventType(StrEnum):
    """What an outbox event tells (its payload's shape follows from it)."""

    INVENTORY_CHANGED = "InventoryChanged"
    STOCK_RESERVED = "StockReserved"
    RESERVATION_RELEASED = "ReservationReleased"
    SHIPMENT_CONFIRMED = "ShipmentConfirmed"
    RETURN_RECEIVED = "ReturnReceived"
    INVENTORY_RESET = "InventoryReset"
    INVENTORY_IMPORTED = "InventoryImported"  # ledger rows loaded from a seed-format document


EVENT_TYPES = frozenset(EventType)
OUTBOX_SEQUENCE = "outbox_event_seq"
OUTBOX = cast(Table, OutboxEvent.__table__)


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
    parameters, for `event_insert` or a caller's own statement (`event_insert_from`)."""
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


def event_insert_from(source: str, payload_sql: str = ":e_payload") -> str:
    """PostgreSQL: an INSERT of the event (`event_params`) for each row of the CTE `source`, to
    put in a caller's single statement; its number fenced (events/fence.py). `payload_sql` may
    compute the payload from :e_payload and the row."""
    return (
        f"INSERT INTO outbox_event ({_COLUMNS}) SELECT :e_facility_id, "
        f"stockledger_fenced_nextval('{OUTBOX_SEQUENCE}'), :e_event_type, {payload_sql}, :e_created_stamp "
        f"FROM {source}"
    )


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
