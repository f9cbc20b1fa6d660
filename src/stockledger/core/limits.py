"""Request limits, before any route runs: a body over 10 MB is a 413, a /v1 body that is not JSON a
415 (so is one with no Content-Type at all), a NUL character in the path, query or body, or a lone
surrogate in a JSON body, a 422 (core.guards); all problem+json.

Streaming routes (the ERP reset CSV) are exempt from the size and type checks and read their body
incrementally; they check their own content, and hold what they read whole (a JSON reset) to the
same limit (`read_whole`).

A client that goes away before its whole body arrived (BodyCut, or Starlette's ClientDisconnect
on a streaming route) is logged in one line (who, the route, how many bytes came) and answered
nothing: no route ran on a partial body, so nothing changed.
"""

import logging
from typing import IO

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.core.config import default
from stockledger.core.guards import (
    NUL_DETAIL,
    SURROGATE_DETAIL,
    content_type_of,
    is_json,
    lone_surrogate_in_body,
    media_type,
    nul_in_body,
    nul_in_target,
)

MAX_BODY: int = default("max_body_bytes")
log = logging.getLogger("stockledger")


class BodyCut(Exception):
    """The client went away after `received` bytes, before the end of its body."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the client went away after {received} bytes of its body")
        self.received = received


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY, streaming: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming = streaming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if nul_in_target(scope):
            await _refuse(scope, receive, send, 422, "validation_failed", NUL_DETAIL)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if scope.get("path") in self.streaming:
            await _streamed(self.app, scope, receive, send)
            return
        declared = _content_length(scope)
        fits = declared is None or declared <= self.max_bytes
        try:
            body = await read_body(receive, self.max_bytes) if fits else None
        except BodyCut as cut:
            log_body_cut(scope, cut.received)
            return
        if body is None:
            detail = f"The request body is larger than {_size(self.max_bytes)}"
            await _refuse(scope, receive, send, 413, "payload_too_large", detail)
            return
        if (refusal := body_refusal(scope, body)) is not None:
            await _refuse(scope, receive, send, *refusal)
            return
        await self.app(scope, replay_body(body), send)


async def _streamed(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """A streaming route, its body's bytes counted for the line logged when the client goes away."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        return message

    try:
        await app(scope, counted, send)
    except (BodyCut, ClientDisconnect):
        log_body_cut(scope, received)


def log_body_cut(scope: Scope, received: int) -> None:
    """One line for a client gone mid-body: who (its address, and its user once known), the route
    and how many bytes came. Nothing is answered: there is no one to answer."""
    client = scope.get("client")
    who = f"client {client[0]}:{client[1]}" if client else "a client"
    user = getattr(scope.get("state", {}).get("principal"), "login_id", None)
    who += f" (user {user})" if user else ""
    log.warning(
        "%s went away after %d bytes of its %s %s body: nothing answered, nothing changed",
        who,
        received,
        scope.get("method"),
        scope.get("path"),
    )


def body_refusal(scope: Scope, body: bytes) -> tuple[int, str, str] | None:
    """(status, code, detail) when the body is not one any route takes."""
    content_type = content_type_of(scope)
    if body and scope.get("path", "").startswith("/v1/"):
        if not media_type(content_type):  # FastAPI would read it as JSON; the contract says 415
            return 415, "unsupported_media_type", "Send application/json: the body has no Content-Type"
        if not is_json(content_type):
            return 415, "unsupported_media_type", f"Send application/json, not {media_type(content_type)}"
    if nul_in_body(content_type, body):
        return 422, "validation_failed", NUL_DETAIL
    if lone_surrogate_in_body(content_type, body):
        return 422, "validation_failed", SURROGATE_DETAIL
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str) -> None:
    from stockledger.core.problems import HTTP_CODES, send_problem  # avoid an import cycle at start-up

    title = HTTP_CODES.get(status, (code, "Validation failed"))[1]
    await send_problem(scope, receive, send, status, code, title, detail)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_body(receive: Receive, max_bytes: int | None = None) -> bytes | None:
    """The whole request body, or None once it grows past `max_bytes`; BodyCut when the client
    goes away before its end (a part of a body is never taken for the whole)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise BodyCut(size)
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


def read_whole(body: IO[bytes], limit: int) -> bytes:
    """A streaming route's body that it reads whole (a JSON reset: only the CSV streams), held
    to the limit of every other body: over it, 413 payload_too_large."""
    data = body.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"The request body is larger than {_size(limit)}")
    return data


def _size(limit: int) -> str:
    mb = 1024 * 1024
    return f"{limit // mb} MB" if limit % mb == 0 else f"{limit} bytes"
