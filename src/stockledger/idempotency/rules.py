"""Pure rules of Idempotency-Key handling: which requests, their fingerprint, what is stored."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from stockledger.core import strict_json
from stockledger.idempotency.models import UNKNOWN_FACILITY

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
MAX_FACILITY_LENGTH = 60
# Answers not kept: the request never really ran (auth refused it, timeout, rate limit), named
# what does not exist yet (404: kept, a key sent before its order, shipment or facility existed
# would refuse the real request for 24 hours), or failed on our side (5xx: its transaction
# rolls back, claim included). A retry with the key runs afresh.
TRANSIENT_STATUSES = frozenset({401, 403, 404, 408, 429})


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """How long a key replays its first answer (STOCKLEDGER_IDEMPOTENCY_KEY_HOURS), and how long a
    duplicate waits for the first request with its key before a 409 (a PostgreSQL lock_timeout,
    STOCKLEDGER_IDEMPOTENCY_WAIT_SECONDS)."""

    lifetime: timedelta
    claim_wait: float  # seconds

    @classmethod
    def of(cls, hours: float, wait_seconds: float) -> "KeyPolicy":
        return cls(timedelta(hours=hours), wait_seconds)


def applies_to(method: str, path: str) -> bool:
    return method in WRITE_METHODS and path.startswith("/v1/")


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(33 <= ord(ch) <= 126 for ch in key)


def stores_answer(status: int) -> bool:
    """2xx, 3xx and 4xx answers are final (as Stripe does), except 401, 403, 404, 408 and 429."""
    return status < 500 and status not in TRANSIENT_STATUSES


def request_fingerprint(
    method: str, path: str, query_string: bytes, body: bytes, canonical: bool = True
) -> str:
    """SHA-256 of method, path, query (order-insensitive) and body (JSON canonicalised, unless
    `canonical` is False: as sent)."""
    query = urlencode(sorted(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)))
    digest = hashlib.sha256()
    content = _canonical_body(body) if canonical else body
    for part in (method.encode(), path.encode(), query.encode(), content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _canonical_body(body: bytes) -> bytes:
    """Key order and whitespace of a JSON body do not make it another request. Raises
    strict_json.DuplicateMember for a body naming a member twice (the middleware refuses it, as
    the route would, before a key is looked at)."""
    try:
        return json.dumps(
            strict_json.loads(body, parse_float=float), sort_keys=True, separators=(",", ":")
        ).encode()
    except strict_json.DuplicateMember:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON, or nested too deep: as sent
        return body


def facility_scope(path: str, body: bytes) -> str:
    """The facility a request names (path first, then the top of a JSON body), else '_'."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["v1", "facilities"] and parts[3]:
        return _fits(parts[3])
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return UNKNOWN_FACILITY
    if isinstance(document, dict):
        for key in ("facilityId", "originFacilityId"):
            if isinstance(document.get(key), str) and document[key]:
                return _fits(document[key])
    return UNKNOWN_FACILITY


def _fits(facility_id: str) -> str:
    return facility_id if len(facility_id) <= MAX_FACILITY_LENGTH else UNKNOWN_FACILITY
