"""Authentication and authorisation of /v1: Bearer token (the web cookie for reads), role, facility.

Pure ASGI so the request body can be read once for its facility ids and replayed to the
route. A principal is cached per token for a few seconds: revocation takes effect within
`PrincipalCache.seconds`, and a hot path does not pay a database read per request for it.
"""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from stockledger.auth.rules import READ_METHODS, Principal, is_open, may_call
from stockledger.auth.service import authenticate
from stockledger.core.config import default
from stockledger.core.db import Database
from stockledger.core.limits import replay_body
from stockledger.core.problems import send_problem

COOKIE = "stockledger_token"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
FACILITY_KEYS = frozenset({"facilityId", "originFacilityId"})
JSON_SCAN_LIMIT = 10 * 1024 * 1024


class PrincipalCache:
    """Principals by raw token, each trusted for `seconds` after its database read (None too: an
    unknown token is not looked up again on every request). Shared by AuthMiddleware and the
    hot paths (app.StockledgerApp), so both see the same revocation delay. `clock` gives
    monotonic seconds."""

    def __init__(
        self,
        seconds: float = default("token_cache_seconds"),
        max_entries: int = default("token_cache_entries"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def fresh(self, raw: str) -> tuple[bool, Principal | None]:
        """(True, principal) when `raw` was read less than `seconds` ago, else (False, None)."""
        cached = self._entries.get(raw)
        if cached is not None and self.clock() - cached[0] < self.seconds:
            return True, cached[1]
        return False, None

    def put(self, raw: str, principal: Principal | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[raw] = (self.clock(), principal)


class AuthMiddleware:
    def __init__(self, app: ASGIApp, database: Callable[[], Database], cache: PrincipalCache) -> None:
        self.app = app
        self.database = database
        self._cache = cache  # shared with the hot paths (app.state.auth_cache)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1") or is_open(path):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        raw = bearer_token(request)
        principal = await self._principal(raw) if raw else None
        if principal is not None and _cookie_write(request):
            # Another site can make a browser send the cookie, not the header (SECURITY.md).
            detail = "A write needs Authorization: Bearer <token>; the sign-in cookie is for reads only"
            await _refuse(scope, receive, send, 401, "unauthorized", "Unauthorized", detail, _CHALLENGE)
            return
        if principal is None:
            await _refuse(
                scope,
                receive,
                send,
                401,
                "unauthorized",
                "Unauthorized",
                "A valid token is required: Authorization: Bearer <token>",
                _CHALLENGE,
            )
            return
        if not may_call(principal.role, request.method, path):
            await _forbid(scope, receive, send, f"Role {principal.role} may not {request.method} {path}")
            return
        scope.setdefault("state", {})["principal"] = principal
        if principal.facilities is not None:
            replay = await self._check_facilities(scope, receive, send, request, principal)
            if replay is None:
                return
            receive = replay
        await self.app(scope, receive, send)

    async def _principal(self, raw: str) -> Principal | None:
        known, principal = self._cache.fresh(raw)
        if known:
            return principal
        principal = await run_in_threadpool(self._lookup, raw)
        self._cache.put(raw, principal)
        return principal

    def _lookup(self, raw: str) -> Principal | None:
        with self.database().reading() as session:
            return authenticate(session, raw)

    async def _check_facilities(
        self, scope: Scope, receive: Receive, send: Send, request: Request, principal: Principal
    ) -> Receive | None:
        named = set(path_and_query_facilities(request))
        replay = receive
        if request.method not in ("GET", "HEAD") and "json" in request.headers.get("content-type", ""):
            body = await request.body()
            if len(body) <= JSON_SCAN_LIMIT:
                named |= set(body_facilities(body))
            replay = replay_body(body)
        refused = sorted(f for f in named if not principal.may_touch(f))
        if refused:
            await _forbid(scope, receive, send, f"This token may not act on facility {', '.join(refused)}")
            return None
        return replay


def bearer_token(request: Request) -> str | None:
    return bearer_of(request.headers.get("authorization", "")) or request.cookies.get(COOKIE) or None


def _cookie_write(request: Request) -> bool:
    """A write authenticated by the sign-in cookie alone (no Authorization header)."""
    return request.method not in READ_METHODS and bearer_of(request.headers.get("authorization", "")) is None


def bearer_of(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def path_and_query_facilities(request: Request) -> Iterator[str]:
    parts = request.url.path.split("/")
    if len(parts) > 3 and parts[1:3] == ["v1", "facilities"]:
        yield parts[3]
    for key in FACILITY_KEYS:
        yield from request.query_params.getlist(key)


def body_facilities(body: bytes) -> Iterator[str]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return  # the route answers malformed (or too deeply nested) JSON itself
    yield from _walk(document)


def _walk(document: Any) -> Iterator[str]:
    """Facility ids at any depth; iterative, so nesting depth cannot exhaust the stack."""
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in FACILITY_KEYS and isinstance(value, str):
                    yield value
                elif isinstance(value, (dict, list)):
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)


async def _forbid(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    await _refuse(scope, receive, send, 403, "forbidden", "Forbidden", detail)


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    await send_problem(scope, receive, send, status, code, title, detail, headers)
