"""GET /v1/availability in front of the framework: the hot read, answered in one statement.

A well-formed request (exactly `facilityId` and `productId`, a Bearer token whose principal is
cached and may read that facility) on PostgreSQL is answered here, before FastAPI's middleware
stack, router and parameter handling, which cost more CPU than the statement itself
(bench/RESULTS.md: availability_p99). Anything else, and any outcome but a 200, is declined:
the full stack then serves the request, so its errors, its 401/403 and its OpenAPI entry stay
the single source of truth. The answer is the route's own bytes (ledger.api.availability_json).
"""

import time
from urllib.parse import parse_qsl

from sqlalchemy.exc import DBAPIError
from starlette.types import Scope, Send

from stockledger.auth.middleware import PrincipalCache, bearer_of
from stockledger.auth.rules import may_call
from stockledger.core.async_pool import AsyncPoolUnavailable
from stockledger.core.db import Database
from stockledger.core.errors import AppError
from stockledger.ledger.api import availability_json
from stockledger.ledger.views import availability_now
from stockledger.metrics.registry import REQUEST_SECONDS

PATH = "/v1/availability"
_PARAMS = frozenset({"facilityId", "productId"})
_SERVED = REQUEST_SECONDS.labels("GET", PATH, "200")


class AvailabilityFastPath:
    def __init__(self, db: Database, principals: PrincipalCache) -> None:
        self.db = db
        self.principals = principals

    def accepts(self, scope: Scope) -> bool:
        return bool(scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET")

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Answer the request and return True, or send nothing and return False."""
        started = time.perf_counter()
        if self.db.async_pool is None:
            return False
        ids = _ids(scope["query_string"])
        if ids is None or not self._may_read(scope, ids[0]):
            return False
        try:
            found = await availability_now(self.db, *ids)
        except (AppError, AsyncPoolUnavailable, DBAPIError):
            # unknown facility or product, no connection at hand, or the database failed: the full
            # stack answers (a 503 from its handlers; raised here, it would be a 500)
            return False
        body = availability_json(found)
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        _SERVED.observe(time.perf_counter() - started)
        return True

    def _may_read(self, scope: Scope, facility_id: str) -> bool:
        raw = _bearer(scope["headers"])
        if raw is None:
            return False
        known, principal = self.principals.fresh(raw)
        return (
            known
            and principal is not None
            and may_call(principal.role, "GET", PATH)
            and principal.may_touch(facility_id)
        )


def _ids(query_string: bytes) -> tuple[str, str] | None:
    """(facilityId, productId) when the query holds exactly these two, once each, non-empty."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if len(pairs) != 2 or {k for k, _ in pairs} != _PARAMS or not all(v for _, v in pairs):
        return None
    named = dict(pairs)
    return named["facilityId"], named["productId"]


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            return bearer_of(value.decode("latin-1"))
    return None
