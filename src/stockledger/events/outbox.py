"""Record business events in the outbox, in the caller's transaction (SPEC §7).

Event types: InventoryChanged, StockReserved, ReservationReleased, ShipmentConfirmed,
ReturnReceived, InventoryReset, InventoryImported. The payload is a JSON object with camelCase keys, and
`changeByUserLoginId`: the user the change was made for (core.actor).

On PostgreSQL each number is taken with its fence raised first (core/fence.py), so that
the feed never serves past a number a running transaction may still commit.
"""

import json
import json.encoder
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import accumulate
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.exact_marks import exact_numbers_text
from stockledger.core.fence import fenced_next_value
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.quantities import json_number
from stockledger.core.scope import check_facility
from stockledger.core.statements import BindTarget, Statement, bound, run
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


@dataclass(frozen=True, slots=True)
class Event:
    """One business event to record: its facility, type and payload."""

    facility_id: str
    event_type: str
    payload: dict[str, Any]


EVENT_BYTES = 64 * 1024  # no event is larger (its JSON as GET /v1/events and NATS carry it)
PAYLOAD_BYTES = EVENT_BYTES - 512  # the rest: the event's own fields around its payload


def record_event(session: Session, facility_id: str, event_type: str, payload: dict[str, Any]) -> int:
    """Append the event to the outbox, in parts if its payload is over PAYLOAD_BYTES
    (`payload_parts`); returns the (last part's) sequence number."""
    numbers = [int(run(session, s)[0][0]) for s in event_inserts(session, facility_id, event_type, payload)]
    return numbers[-1]


def record_encoded_event(
    session: Session, facility_id: str, event_type: str, payload: dict[str, Any], key: str, items: list[str]
) -> int:
    """`record_event` of `payload` whose list `key` the caller encoded itself: `items`, the JSON
    texts of its members as `json.dumps` writes them (a bulk change's lines, encoded by the
    database); signed and cut into parts as `payload_parts` does; the (last part's) sequence number."""
    if not facility_id.startswith("_"):
        check_facility(session, facility_id)
    parts = encoded_parts(_signed(payload, acting_user(session)), key, items)
    values = (_values(session, facility_id, event_type, part) for part in parts)
    return [int(run(session, _insert(session, v))[0][0]) for v in values][-1]


def event_inserts(
    session: Session, facility_id: str, event_type: str, payload: dict[str, Any]
) -> list[Statement]:
    """The INSERTs of the event's parts (`payload_parts`; one for most events), each … RETURNING
    event_seq, to run now or with other writes. Each takes its number itself, fenced
    (core/fence.py), so the parts of one change are consecutive within its transaction."""
    if not facility_id.startswith("_"):  # "_ALL": a run over several facilities, each checked
        check_facility(session, facility_id)
    parts = payload_parts(_signed(payload, acting_user(session)))
    return [_insert(session, _values(session, facility_id, event_type, part)) for part in parts]


def event_insert(session: Session, facility_id: str, event_type: str, payload: dict[str, Any]) -> Statement:
    """The INSERT of one event that fits in one part (… RETURNING event_seq), to run now or with
    other writes (core.statements.run_together). The INSERT takes its number itself, fenced."""
    (statement,) = event_inserts(session, facility_id, event_type, payload)
    return statement


def payload_parts(payload: dict[str, Any]) -> list[str]:
    """The payload as JSON text: one text up to PAYLOAD_BYTES; over it, its longest list by text
    (a bulk change's lines, not a shorter list of as many ids) is cut into runs so that each part
    stays under PAYLOAD_BYTES. Every part carries the payload's other keys, then `"partOf": <id of
    the series>, "part": k, "parts": n`, then its run of the list. Text is ASCII (json.dumps escapes
    the rest), so characters are bytes. The other keys are the caller's to keep small (a
    StockReserved event's productIds: reservations.lines.reserved_events)."""
    texts = {k: [_dumps(x) for x in v] for k, v in payload.items() if isinstance(v, list)}
    if not texts:
        return [_dumps(payload)]
    key = max(texts, key=lambda k: sum(map(len, texts[k])))
    return encoded_parts(payload, key, texts[key])


def encoded_parts(payload: dict[str, Any], key: str, items: list[str]) -> list[str]:
    """`payload_parts` of `payload` with its list `key` given as its members' JSON texts, `items`
    (`payload[key]` itself is not read)."""
    # The whole text holds each item's text and a comma between: when those alone are over the
    # limit, the whole (a bulk change of 5,000 lines) is not dumped only to be measured.
    if sum(map(len, items)) + len(items) - 1 <= PAYLOAD_BYTES:
        before, _, after = _dumps({**payload, key: []}).partition(f"{_dumps(key)}:[]")
        whole = f"{before}{_dumps(key)}:[{','.join(items)}]{after}"
        if len(whole) <= PAYLOAD_BYTES:
            return [whole]
    rest = {k: v for k, v in payload.items() if k != key}
    series = new_id("EP")
    head = _dumps({**rest, "partOf": series, "part": 0, "parts": 0})
    room = PAYLOAD_BYTES - len(head) - len(key) - 32  # the key, its brackets, the numbers' digits
    runs = _runs(items, room)
    return [
        _dumps({**rest, "partOf": series, "part": n, "parts": len(runs)})[:-1]
        + f",{_dumps(key)}:[{','.join(run)}]}}"
        for n, run in enumerate(runs, start=1)
    ]


def _runs(items: list[str], room: int) -> list[list[str]]:
    """`items` cut, in order, into runs each as long as fits in `room` (an item and its comma
    each), an item longer than that alone in its run: where each run ends is found by bisecting
    the running sizes, not by a step of Python per item (a 100,000-line reset: 0.1 s)."""
    ends = list(accumulate(len(item) + 1 for item in items))
    runs = []
    start = 0
    while start < len(items):
        before = ends[start - 1] if start else 0
        end = max(start + 1, bisect_right(ends, before + room, lo=start))
        runs.append(items[start:end])
        start = end
    return runs or [[]]  # no items: one part, its list empty


def _insert(session: Session, values: dict[str, Any]) -> Statement:
    next_seq, seq_params = fenced_next_value(session, OUTBOX_SEQUENCE)
    return Statement(f"{_INSERT_HEAD}{next_seq}{_INSERT_TAIL}", {**values, **seq_params})


def _signed(payload: dict[str, Any], user: str | None) -> dict[str, Any]:
    """The payload with `changeByUserLoginId`: who the change was made for (core.actor)."""
    return payload if user is None else {**payload, "changeByUserLoginId": user}


def _values(on: BindTarget, facility_id: str, event_type: str, payload: str) -> dict[str, Any]:
    """The outbox row's column values (but its number) in the driver's form."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    values = {
        "facility_id": facility_id,
        "event_type": event_type,
        "payload": payload,
        "created_stamp": utcnow(),
    }
    return bound(on, OUTBOX, values)


def _dumps(value: object) -> str:
    text = _ENCODER.encode(value) if _C_ENCODE is None else "".join(_C_ENCODE(value, 0))
    return exact_numbers_text(text)


def payload_around(
    event_type: str, payload_of: Callable[[str], dict[str, Any]], user: str | None
) -> tuple[str, str]:
    """For a payload that names an id only the statement learns (the item a reservation posts
    to): the JSON of `payload_of(id)` (signed by `user`, as `event_inserts` signs for the acting
    user) before and after the id's JSON string, so that `head || to_json(id)::text || tail` in
    SQL is that payload's JSON, byte for byte."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    head, found, tail = _dumps(_signed(payload_of(_ID), user)).partition(_ID_JSON)
    if not found or _ID_JSON in tail:
        raise ValueError("payload_of must put the id in the payload exactly once")
    return head, tail


# Stands for the id while the payload is encoded; never sent (a NUL is no id or key of ours).
_ID = "\x00id\x00"
_ID_JSON = json.dumps(_ID)
_COLUMNS = "facility_id, event_seq, event_type, payload, created_stamp"
_INSERT_HEAD = f"INSERT INTO outbox_event ({_COLUMNS}) VALUES (:facility_id, "  # then the next seq
_INSERT_TAIL = ", :event_type, :payload, :created_stamp) RETURNING event_seq"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return json_number(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# json.dumps(value, default=_json_default, separators=(",", ":")), its encoder made once (json.dumps
# builds one per call when given options: a few µs of every event)
_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
# …and the C encoder that _ENCODER.encode makes anew for every call (as many µs again: ≈ 4 µs of a
# reservation's 8, warm), made once: without the check for circular references, which no payload
# has (it is made of the caller's values). Where _json has no C encoder: _ENCODER.encode.
_MAKE_C_ENCODER: Callable[..., Callable[[object, int], list[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_C_ENCODE = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None, _json_default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
)
