"""JSON with exact numbers, both ways. Bodies are read with a quantity of 1.0000000000000000000000001
reaching validation as that Decimal (and refused: more than 6 decimals), not as the float 1.0 it
would round to. Answers write a quantity a float would round (999999999999.999999, past 15
significant digits) with its every digit: json_number gives it as a marked text (EXACT_MARK: a
NUL, which no text this service keeps can hold), and exact_numbers, on every answer's way out
(ExactNumbers) and in the event outbox, turns the marked text back into the number. ExactNumbers
looks for marks only in an answer whose making wrote one (exact_mark notes it): the others, a
1 MB list included, pass through unread (a scan costs about 0.2 µs per KB).

An answer sent again without being made again (an Idempotency-Key replay) has its marks written
out where it is sent (idempotency.middleware), not here. The marks themselves are
core.exact_marks' (no web framework: the outbox and the command line use them too)."""

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.core.exact_marks import MARK_IN_JSON, MARKS_WRITTEN, exact_numbers


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
                and MARK_IN_JSON in message.get("body", b"")
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

        token = MARKS_WRITTEN.set(written)
        try:
            await self.app(scope, receive, exact)
        finally:
            MARKS_WRITTEN.reset(token)


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
