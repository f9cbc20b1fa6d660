"""Request body limit: over 10 MB is a 413 problem+json before any route runs.

Streaming routes (the ERP reset CSV) are exempt and read their body incrementally.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.core.errors import problem

MAX_BODY = 10 * 1024 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY, streaming: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming = streaming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if scope.get("path") in self.streaming:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        body = await read_body(receive, self.max_bytes)
        if body is None:
            await self._too_large(scope, receive, send)
            return
        await self.app(scope, replay_body(body), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        from stockledger.core.problems import problem_response  # avoid an import cycle at start-up

        detail = f"The request body is larger than {self.max_bytes // (1024 * 1024)} MB"
        body = problem(413, "payload_too_large", "Payload too large", detail, scope.get("path"))
        await problem_response(body)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(receive: Receive, max_bytes: int | None = None) -> bytes | None:
    """The whole request body, or None once it grows past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: what came is all
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_body(body: bytes) -> Receive:
    """A `receive` that hands an already-read body to the next app."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
