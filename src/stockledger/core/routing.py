"""Which routes take a request: for the Allow header of a 405, and so a write no route takes
claims no Idempotency-Key (it is answered 404 or 405 as without one). HEAD is answered as GET
is, without the body (RFC 9110 §9.3.2): FastAPI's routes declare GET only."""

from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
# In the scope of a HEAD taken through the app as a GET: an answer that can send its headers
# without making its body (a streamed CSV export) does so (core.csv_export).
HEAD_ONLY = "stockledger.head_only"


def is_routed(app: Any, scope: Scope) -> bool:
    """Whether a route of `app` takes this method at this path."""
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def methods_at(app: Any, scope: Scope) -> list[str]:
    """Every method some route of `app` takes at this path (Starlette's 405 names the first
    route's only: GET /v1/facilities/{id} and PATCH /v1/facilities/{id} are two routes); HEAD
    wherever GET is (HeadAsGet)."""
    taken = {method for method in METHODS if is_routed(app, {**scope, "method": method})}
    if "GET" in taken:
        taken.add("HEAD")
    return [method for method in METHODS if method in taken]


class HeadAsGet:
    """A HEAD request goes through the app as a GET; its answer's body is dropped (headers kept,
    Content-Length included), so every GET route answers HEAD, a streamed CSV export too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_ONLY: True}, receive, without_body)
