"""JSON with exact numbers, both ways. Bodies are read with a quantity of 1.0000000000000000000000001
reaching validation as that Decimal (and refused: more than 6 decimals), not as the float 1.0 it
would round to. Answers write a quantity a float would round (999999999999.999999, past 15
significant digits) with its every digit: json_number gives it as a marked text (EXACT_MARK: a
NUL, which no text this service keeps can hold), and exact_numbers, on every answer's way out
(ExactNumbers) and in the event outbox, turns the marked text back into the number. ExactNumbers
looks for marks only in an answer whose making wrote one (exact_mark notes it): the others, a
1 MB list included, pass through unread (a scan costs about 0.2 µs per KB).

An answer sent again without being made again (an Idempotency-Key replay) has its marks written
out where it is sent (idempotency.middleware), not here."""

import json
import re
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXACT_MARK = "\x00exact:"
_MARK_IN_TEXT = '"\\u0000exact:'  # the mark as json.dumps writes it inside a string
_MARK_IN_JSON = _MARK_IN_TEXT.encode()
_MARKED_TEXT = re.compile(re.escape(_MARK_IN_TEXT) + r'(-?[0-9]+(?:\.[0-9]+)?)"')
_MARKED = re.compile(_MARKED_TEXT.pattern.encode())


# Set by ExactNumbers for each request: a list that exact_mark appends to (a list, not a flag, so
# a route run in a worker thread, in a copy of the context, still reaches it).
_MARKS_WRITTEN: ContextVar[list[bool] | None] = ContextVar("stockledger_exact_marks", default=None)


def exact_mark(digits: str) -> str:
    """The marked text of the number `digits`, noted for the answer being made."""
    written = _MARKS_WRITTEN.get()
    if written is not None and not written:
        written.append(True)
    return EXACT_MARK + digits


def exact_numbers(body: bytes) -> bytes:
    """`body` (JSON) with each marked text of a number written as that number."""
    return _MARKED.sub(rb"\1", body) if _MARK_IN_JSON in body else body


def exact_numbers_text(text: str) -> str:
    return _MARKED_TEXT.sub(r"\1", text) if _MARK_IN_TEXT in text else text


class ExactNumbers:
    """Every answer's JSON with its marked numbers written out (Content-Length kept right)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        written: list[bool] = []
        start: Message | None = None

        async def exact(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not written:  # a whole answer is made before it starts: nothing to write out
                    await send(message)
                    return
                start = message
                return
            if (
                written
                and message["type"] == "http.response.body"
                and _MARK_IN_JSON in message.get("body", b"")
            ):
                message = {**message, "body": exact_numbers(message["body"])}
                if start is not None and not message.get("more_body", False):
                    length = str(len(message["body"])).encode()
                    headers = [(k, length if k == b"content-length" else v) for k, v in start["headers"]]
                    start = {**start, "headers": headers}
            if start is not None:
                await send(start)
                start = None
            await send(message)

        token = _MARKS_WRITTEN.set(written)
        try:
            await self.app(scope, receive, exact)
        finally:
            _MARKS_WRITTEN.reset(token)


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactJsonRoute(APIRoute):
    """The route class of routers that take JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handle(ExactJsonRequest(request.scope, request.receive))

        return exact
