"""Pure ASGI middleware: latency by route template, and the outcome of reservation requests."""

import json
import time
from decimal import Decimal

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.metrics.registry import REQUEST_SECONDS, RESERVATIONS

# Route templates of reservation requests (not the release, not the pick list).
RESERVE_ROUTES = frozenset({"/v1/reservations", "/v1/orders/{order_id}/reserve"})
ANSWER_SCAN_LIMIT = 4 * 1024 * 1024  # a bigger answer (a huge order) counts as plain "reserved"
CLIENT_GONE = 499  # no answer at all: the client went away mid-body (core.limits); nginx's code


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        answered = False
        answer = bytearray()

        async def watch(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = int(message["status"]), True
            elif message["type"] == "http.response.body" and _keeps(scope, answer):
                answer.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
            status = status if answered else CLIENT_GONE
        finally:
            route = route_template(scope)
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
            if scope["method"] == "POST" and route in RESERVE_ROUTES:
                RESERVATIONS.labels(reservation_outcome(status, bytes(answer))).inc()


def _keeps(scope: Scope, answer: bytearray) -> bool:
    """Keep the answer of a reservation request (for its outcome), up to the scan limit."""
    route = getattr(scope.get("route"), "path", None)
    return scope["method"] == "POST" and route in RESERVE_ROUTES and len(answer) <= ANSWER_SCAN_LIMIT


def route_template(scope: Scope) -> str:
    """The matched route's path template; requests refused before routing are matched here."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            if candidate.matches(scope)[0] is Match.FULL:
                route = candidate
                break
    return str(getattr(route, "path", None) or "unmatched")


def reservation_outcome(status: int, answer: bytes) -> str:
    """reserved, partial (some unreserved), backorder (some not available), insufficient, refused."""
    try:
        body = json.loads(answer) if answer and len(answer) <= ANSWER_SCAN_LIMIT else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if 200 <= status < 300:
        return served_outcome(body.get("quantityNotAvailable") or 0, body.get("quantityUnreserved") or 0)
    if status == 409 and body.get("code") == "insufficient_stock":
        return "insufficient"
    return "refused"


def served_outcome(
    quantity_not_available: Decimal | int | float, quantity_unreserved: Decimal | int | float
) -> str:
    """A reservation answered 2xx: backorder (some not available), partial (some unreserved), reserved.
    reservations.fast_reserve gives its line's numbers here rather than reading its answer again."""
    if quantity_not_available > 0:
        return "backorder"
    if quantity_unreserved > 0:
        return "partial"
    return "reserved"
