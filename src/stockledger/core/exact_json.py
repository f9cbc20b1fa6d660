"""JSON with exact numbers, both ways. Bodies are read with a quantity of 1.0000000000000000000000001
reaching validation as that Decimal (and refused: more than 6 decimals), not as the float 1.0 it
would round to; a body with an object naming a member twice is a 422 (core.strict_json).
Answers write a quantity a float would round (999999999999.999999, past 15 significant digits)
with its every digit: json_number gives it as a marked text (EXACT_MARK: a
NUL, which no text this service keeps can hold), and exact_numbers, on every answer's way out
(ExactNumbers) and in the event outbox, turns the marked text back into the number. ExactNumbers
looks for marks only in an answer whose making wrote one (exact_mark notes it): the others, a
1 MB list included, pass through unread (a scan costs about 0.2 µs per KB).

An answer sent again without being made again (an Idempotency-Key replay) has its marks written
out where it is sent (idempotency.middleware), not here. The marks themselves are
core.exact_marks' (no web framework: the outbox and the command line use them too)."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.core import strict_json
from stockledger.core.exact_marks import MARK_IN_JSON, MARKS_WRITTEN, exact_numbers
from stockledger.core.guards import is_json


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
            self._json = strict_json.loads(await self.body())
        return self._json

    async def refuse_duplicate_members(self) -> None:
        """422 for a JSON body with an object naming a member twice (core.strict_json), read here,
        before the route: FastAPI answers any error of its own reading as a 400. The body read
        stays for the route; JSON it cannot read is left to the route to answer as ever."""
        if not is_json(self.headers.get("content-type", "")):
            return
        try:
            await self.json()
        except strict_json.DuplicateMember as twice:
            raise twice.refusal(["body"]) from None
        except (ValueError, UnicodeDecodeError, RecursionError):
            return


class ExactJsonRoute(APIRoute):
    """The route class of routers that take JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        takes_body = self.body_field is not None

        async def exact(request: Request) -> Response:
            exact_request = ExactJsonRequest(request.scope, request.receive)
            if takes_body:
                await exact_request.refuse_duplicate_members()
            return await handle(exact_request)

        return exact
