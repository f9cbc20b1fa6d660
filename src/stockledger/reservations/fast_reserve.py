"""POST /v1/reservations without an Idempotency-Key, in front of the framework (PostgreSQL).

The hot write: FastAPI's middleware stack, router, body parsing and dependency handling cost
about as much CPU as the reservation's statement itself (bench/RESULTS.md). A request this
module is sure of (a JSON body the route's model takes, a Bearer token whose principal is
cached and may make it, no key, no query) is reserved here with the route's own call
(service.reserve_line_async) and answered with the route's own bytes (api.created_answer), with
the same metrics. Anything else is handed to the full stack with its body replayed, before
anything is written; a call that raises hands its error to the full stack too (the route
raises it: api.FAST_PATH_FAILED), so every refusal and error is the route's own answer.
"""

import time
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from stockledger.auth.middleware import PrincipalCache, bearer_of, body_facilities
from stockledger.auth.rules import Principal, may_call
from stockledger.core import strict_json
from stockledger.core.db import Database
from stockledger.core.deps import write_session
from stockledger.core.exact_marks import MARK_IN_JSON, MARKS_WRITTEN, exact_numbers
from stockledger.core.guards import nul_in_target
from stockledger.core.limits import MAX_BODY, BodyCut, body_refusal, log_body_cut, read_body, replay_body
from stockledger.metrics.middleware import served_outcome
from stockledger.metrics.registry import REQUEST_SECONDS, RESERVATIONS
from stockledger.reservations import service
from stockledger.reservations.api import FAST_PATH_FAILED, created_answer
from stockledger.reservations.schemas import ReservationRequest
from stockledger.reservations.service import ReserveLine

PATH = "/v1/reservations"
_DECLINING_HEADERS = frozenset({b"idempotency-key", b"cookie"})


class ReservationFastPath:
    def __init__(
        self, app: ASGIApp, db: Database, principals: PrincipalCache, max_bytes: int = MAX_BODY
    ) -> None:
        self.app = app  # the whole app: write_session finds the Database on scope["app"].state
        self.db = db
        self.principals = principals
        self.max_bytes = (
            max_bytes  # the body limit's (STOCKLEDGER_MAX_BODY_BYTES): larger, the full stack refuses
        )

    def accepts(self, scope: Scope) -> bool:
        return bool(
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and not scope["query_string"]
            and self.db.async_pool is not None
            and not nul_in_target(scope)
        )

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Answer the request (None), or the `receive` the full stack is to read the body from."""
        started = time.perf_counter()
        principal, length = self._principal_and_length(scope)
        if principal is None or length is None or length > self.max_bytes:
            return receive
        try:
            body = await read_body(receive, self.max_bytes)
        except BodyCut as cut:  # the client went away mid-body: no one to answer
            log_body_cut(scope, cut.received)
            return None
        if body is None:  # a Content-Length that lied: let the stack read the rest and refuse
            return receive
        replay = replay_body(body)
        request = _request(scope, body, principal)
        if request is None:
            return replay
        written: list[bool] = []
        marks = MARKS_WRITTEN.set(written)
        try:
            outcome = await service.reserve_line_async(
                self.db,
                request.order_id,
                request.facility_id,
                ReserveLine(
                    request.order_item_seq_id,
                    request.product_id,
                    request.quantity,
                    request.lot_id,
                    request.allow_expired,
                ),
                request.fill,
                principal,
                open_transaction=lambda: write_session(_route_request(scope, self.app, principal)),
            )
            status, answer = created_answer(outcome)
        except Exception as exc:  # the route raises it under the full stack: its answer
            scope[FAST_PATH_FAILED] = exc
            return replay
        finally:
            MARKS_WRITTEN.reset(marks)
        if written and MARK_IN_JSON in answer:
            answer = exact_numbers(answer)
        await _send(send, status, answer)
        _SECONDS[status].observe(time.perf_counter() - started)
        line = outcome.lines[0]
        _OUTCOMES[served_outcome(line.quantity_not_available, line.quantity_unreserved)].inc()
        return None

    def _principal_and_length(self, scope: Scope) -> tuple[Principal | None, int | None]:
        """The cached principal that may POST here, and the declared body length."""
        raw: str | None = None
        length: int | None = None
        json_body = False
        for name, value in scope["headers"]:
            if name in _DECLINING_HEADERS:
                return None, None
            if name == b"authorization":
                if raw is not None:  # more than one: the full stack decides which counts
                    return None, None
                raw = bearer_of(value.decode("latin-1")) or ""
            elif name == b"content-length" and value.isdigit() and length is None:
                length = int(value)
            elif name == b"content-type":
                json_body = value == b"application/json"
        if not raw or not json_body:
            return None, None
        known, principal = self.principals.fresh(raw)
        if not known or principal is None or not may_call(principal.role, "POST", PATH):
            return None, None
        return principal, length


# The metrics' children of what this path answers (api.created_answer: 201, or 200 when nothing
# was there), looked up once: labels() takes a lock and builds its key each call.
_SECONDS = {status: REQUEST_SECONDS.labels("POST", PATH, str(status)) for status in (200, 201)}
_OUTCOMES = {outcome: RESERVATIONS.labels(outcome) for outcome in ("reserved", "partial", "backorder")}


def _request(scope: Scope, body: bytes, principal: Principal) -> ReservationRequest | None:
    """The body as the route reads it (exact numbers, the route's model), or None when in doubt."""
    if not body or body_refusal(scope, body) is not None:
        return None
    try:
        document: Any = strict_json.loads(body)  # a member named twice: None, the route's 422
        if not isinstance(document, dict):
            return None
        request = ReservationRequest.model_validate(document)
    except (ValueError, RecursionError, ValidationError):
        return None
    if principal.facilities is not None:
        named = {request.facility_id, *body_facilities(body)}
        if not all(principal.may_touch(f) for f in named):
            return None
    return request


def _route_request(scope: Scope, app: ASGIApp, principal: Principal) -> Request:
    """The request as the route sees it under the full stack: the app, auth's principal."""
    return Request({**scope, "app": app, "state": {"principal": principal}})


async def _send(send: Send, status: int, answer: bytes) -> None:
    headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
