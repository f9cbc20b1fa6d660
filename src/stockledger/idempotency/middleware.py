"""Idempotency-Key on every write under /v1 (SPEC §10): the first answer, replayed.

The middleware owns the request's transaction when a key is present: it claims the key
(INSERT, blocking on a concurrent holder of the same key), lets the route run inside that
transaction (core.deps.WriteSession joins it as a savepoint, so a refused change rolls
back alone), stores the answer on the key, and commits claim, change and answer at once,
before the answer leaves. A crash before that commit leaves nothing (a retry runs the
request afresh); after it, a retry gets the stored answer. There is no moment where the
change is committed without its answer.
"""

from dataclasses import dataclass, field

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.core import strict_json
from stockledger.core.db import Database
from stockledger.core.deps import WRITE_SESSION, commit_keyed, keyed_session
from stockledger.core.disconnects import LOST
from stockledger.core.errors import AppError
from stockledger.core.exact_marks import exact_numbers
from stockledger.core.guards import is_json
from stockledger.core.limits import read_body, replay_body
from stockledger.core.model_base import utcnow
from stockledger.core.routing import is_routed
from stockledger.idempotency import rules, service
from stockledger.idempotency.models import NO_TOKEN
from stockledger.idempotency.service import KeyClaim, StoredAnswer

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not rules.applies_to(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        keys = Headers(scope=scope).getlist(HEADER)
        if not keys or not is_routed(scope["app"], scope):  # a 404 or 405 claims no key
            await self.app(scope, receive, send)
            return
        if len(keys) > 1 or not rules.valid_key(keys[0]):
            title = "Bad Idempotency-Key"
            await _send_problem(scope, send, 400, "invalid_idempotency_key", title, _bad(keys))
            return
        key = keys[0]
        body = await read_body(receive) or b""
        try:
            claim = _claim_of(scope, key, body)
        except strict_json.DuplicateMember as twice:  # refused as without a key: nothing claimed
            if is_json(Headers(scope=scope).get("content-type", "")):
                await _send_refusal(scope, send, twice.refusal(["body"]))
                return
            claim = _claim_of(scope, key, body, canonical=False)
        await self._run_once(scope, send, claim, body)

    async def _run_once(self, scope: Scope, send: Send, claim: KeyClaim, body: bytes) -> None:
        database: Database = scope["app"].state.db
        session = keyed_session(database)
        try:
            stored = await run_in_threadpool(service.claim_key, session, claim, utcnow())
        except AppError as exc:
            await run_in_threadpool(session.close)
            await _send_problem(scope, send, exc.status, exc.code, exc.title, exc.detail)
            return
        except BaseException:
            await run_in_threadpool(session.close)
            raise
        if stored is not None:
            await run_in_threadpool(session.close)
            await _send_answer(send, stored, replayed=True)
            return
        await self._run_claimed(scope, send, claim, body, session)

    async def _run_claimed(
        self, scope: Scope, send: Send, claim: KeyClaim, body: bytes, session: Session
    ) -> None:
        scope.setdefault("state", {})[WRITE_SESSION] = session
        captured = _Captured()
        try:
            await self.app(scope, replay_body(body), captured.send)
            answer = captured.answer()
            keep = rules.stores_answer(answer.status)
            if keep:
                await run_in_threadpool(_commit_with_answer, session, claim, answer)
        except LOST:  # the database went away, or the connection died under the request
            from stockledger.core.problems import retry_after  # as in _send_problem

            detail = "The database could not commit the change; retry shortly (with the same key)"
            headers = retry_after(scope["app"])
            title = "Service unavailable"
            await _send_problem(scope, send, 503, "database_unavailable", title, detail, headers)
            return
        finally:
            await run_in_threadpool(session.close)  # rolls back whatever was not committed
        await captured.forward(send)


def _commit_with_answer(session: Session, claim: KeyClaim, answer: StoredAnswer) -> None:
    commit_keyed(session, lambda keyed: service.store_answer(keyed, claim, answer))


def _claim_of(scope: Scope, key: str, body: bytes, canonical: bool = True) -> KeyClaim:
    method, path = scope["method"], scope["path"]
    query = scope.get("query_string", b"")
    fingerprint = rules.request_fingerprint(method, path, query, body, canonical)
    facility_id, policy = rules.facility_scope(path, body), scope["app"].state.key_policy
    return KeyClaim(facility_id, _token_of(scope), key, fingerprint, method, path, policy)


def _token_of(scope: Scope) -> str:
    """The key's owner: the token the auth middleware (outside this one) let through. So a
    replay has passed the same authentication, role and facility checks as a fresh request."""
    principal = scope.get("state", {}).get("principal")
    token_id = getattr(principal, "token_id", None)
    return token_id if isinstance(token_id, str) else NO_TOKEN


@dataclass
class _Captured:
    """The route's answer, held back until the transaction that produced it has committed."""

    start: Message | None = None
    chunks: list[bytes] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    def answer(self) -> StoredAnswer:
        assert self.start is not None, "the route sent no answer"
        content_type = Headers(raw=self.start.get("headers", [])).get("content-type")
        return StoredAnswer(int(self.start["status"]), content_type, b"".join(self.chunks))

    async def forward(self, send: Send) -> None:
        assert self.start is not None
        await send(self.start)
        await send({"type": "http.response.body", "body": b"".join(self.chunks)})


async def _send_answer(send: Send, answer: StoredAnswer, replayed: bool) -> None:
    body = exact_numbers(answer.body)  # stored as made: a replay makes nothing (core.exact_json)
    headers = [(b"content-length", str(len(body)).encode())]
    if answer.content_type:
        headers.append((b"content-type", answer.content_type.encode()))
    if replayed:
        headers.append((REPLAYED.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bad(keys: list[str]) -> str:
    if len(keys) > 1:  # which one the sender meant is a guess: refuse rather than use the first
        return f"Send one Idempotency-Key header, not {len(keys)}"
    return f"Idempotency-Key must be 1 to {rules.MAX_KEY_LENGTH} visible ASCII characters"


async def _send_refusal(scope: Scope, send: Send, refusal: AppError) -> None:
    from stockledger.core.problems import problem_response  # as in _send_problem

    response = problem_response(refusal.to_problem(scope.get("path")))
    await response(scope, replay_body(b""), send)


async def _send_problem(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    from stockledger.core.problems import send_problem  # the handlers module imports the app's

    await send_problem(scope, replay_body(b""), send, status, code, title, detail, headers)
