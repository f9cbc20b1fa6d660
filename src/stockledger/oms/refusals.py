"""Why an inbound message is refused before or while it is applied (oms/inbound.py).

The API's guards (core/guards.py) and error handlers (core/problems.py) do not run for a NATS
message, so the same refusals are made here: a NUL or a lone surrogate in a string (PostgreSQL
could not store it, so the message would fail for ever), and a value the database refuses as
too long or out of range (the API's 422, not an outage to retry).

Message ids:

processed_message.message_id is 255 characters of text. A longer id cut to 255 would make two
different messages one (the second dropped as already handled); a NUL cannot be stored by
PostgreSQL at all, and other control characters are no id an OMS means to send. Such a message is
refused (recorded `refused`, acknowledged), under `invalid:sha256:<hex>` of its whole id, so each
distinct one is recorded once and a redelivery is a duplicate. An id whose bytes are not UTF-8
reaches apply_message with each bad byte as a lone surrogate (oms/consumer.py reads the raw
header; "surrogateescape"), so it is refused under a hash of its raw bytes: two such ids never
become one U+FFFD id.
"""

import hashlib
import unicodedata

from stockledger.core.guards import NUL_DETAIL, SURROGATE_DETAIL, lone_surrogate_in_body, nul_in_body
from stockledger.core.problems import client_data_error

MAX_MESSAGE_ID = 255  # processed_message.message_id
INVALID_PREFIX = "invalid:sha256:"


def id_problem(message_id: str) -> str | None:
    """Why `message_id` cannot be stored as it is; None when it can."""
    if not message_id:
        return "invalid_message_id: Nats-Msg-Id is empty"
    if len(message_id) > MAX_MESSAGE_ID:
        return f"invalid_message_id: Nats-Msg-Id is {len(message_id)} characters, over {MAX_MESSAGE_ID}"
    if any(unicodedata.category(ch) == "Cs" for ch in message_id):
        return "invalid_message_id: Nats-Msg-Id is not valid UTF-8"
    if any(unicodedata.category(ch) == "Cc" for ch in message_id):
        return "invalid_message_id: Nats-Msg-Id holds a control character (or a NUL)"
    return None


def stored_id(message_id: str, problem: str | None) -> tuple[str, str | None]:
    """The id to record and the message's problem: an id that cannot be stored makes the
    message refused, under a hash of the whole id; otherwise both as they were."""
    invalid = id_problem(message_id)
    if invalid is None:
        return message_id, problem
    return INVALID_PREFIX + hashlib.sha256(raw_id(message_id)).hexdigest(), invalid


def raw_id(message_id: str) -> bytes:
    """The id's bytes as sent: a byte that was not UTF-8 arrives as a lone surrogate
    (surrogateescape); any other lone surrogate is kept distinct by surrogatepass."""
    try:
        return message_id.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return message_id.encode("utf-8", "surrogatepass")


def body_problem(body: bytes) -> str | None:
    """A NUL or a lone surrogate escaped in the JSON body; None when there is neither."""
    if nul_in_body("application/json", body):
        return f"validation_failed: {NUL_DETAIL}"
    if lone_surrogate_in_body("application/json", body):
        return f"validation_failed: {SURROGATE_DETAIL}"
    return None


def data_refusal(exc: BaseException) -> str | None:
    """The problem of a database error that is the message's data (a value past its column, a
    sum past SQLite's integers), as recorded; None for any other error (an outage: retry)."""
    refusal = client_data_error(exc)
    return None if refusal is None else f"{refusal.code}: {refusal.detail}"
