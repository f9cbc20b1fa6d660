"""Claim an Idempotency-Key in the request's transaction, store its first answer, purge old keys."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.orm import Session

from stockledger.core.dialects import LockWaitExceeded, lock_wait_at_most, upsert
from stockledger.core.errors import Conflict
from stockledger.idempotency.models import IdempotencyKey
from stockledger.idempotency.rules import KeyPolicy


class IdempotencyMismatch(Conflict):
    """The key's stored request differs: a conflict with what the key already names (not a
    malformed request), so it is a 409 as a key still in use is."""

    code, title = "idempotency_mismatch", "Idempotency-Key reused"


class IdempotencyInProgress(Conflict):
    code, title = "idempotency_in_progress", "Request with this Idempotency-Key in progress"


@dataclass(frozen=True, slots=True)
class KeyClaim:
    facility_id: str
    token_id: str  # the key's owner: the token that sent it
    key: str
    request_hash: str
    method: str
    path: str
    policy: KeyPolicy  # the app's (app.state.key_policy), from the settings


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str | None
    body: bytes


def claim_key(session: Session, claim: KeyClaim, now: datetime) -> StoredAnswer | None:
    """Claim the key in the session's transaction: None when it is ours, else the first answer.

    The key is the sending token's (claim.token_id): another token's row is never read here.
    A concurrent request holding the same key blocks this INSERT until it commits (then we
    read its stored answer) or rolls back (then the key is ours). Raises
    IdempotencyMismatch for another request under the same key.
    """
    if _insert_claim(session, claim, now):
        return None
    row = session.get(IdempotencyKey, (claim.facility_id, claim.token_id, claim.key), populate_existing=True)
    if row is None or row.expires_at <= now:  # expired (or purged meanwhile): a new key
        session.execute(delete(IdempotencyKey).where(*_key_is(claim)))
        if _insert_claim(session, claim, now):
            return None
        raise IdempotencyInProgress(f"Idempotency-Key {claim.key} is being used by another request")
    if row.request_hash != claim.request_hash:
        raise IdempotencyMismatch(
            f"Idempotency-Key {claim.key} was used for a different request "
            f"({row.request_method} {row.request_path})",
            idempotencyKey=claim.key,
        )
    if row.response_status is None:  # cannot be committed so (claim and answer commit together)
        raise IdempotencyInProgress(f"Idempotency-Key {claim.key} has no stored answer yet")
    return StoredAnswer(row.response_status, row.response_content_type, row.response_body or b"")


def store_answer(session: Session, claim: KeyClaim, answer: StoredAnswer) -> None:
    """Keep the first answer on the claimed key, in the same transaction as the claim."""
    session.execute(
        update(IdempotencyKey)
        .where(*_key_is(claim))
        .values(
            response_status=answer.status,
            response_content_type=answer.content_type,
            response_body=answer.body,
        )
    )


def purge_expired(session: Session, now: datetime) -> int:
    """Delete keys past their expiry; returns how many."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _insert_claim(session: Session, claim: KeyClaim, now: datetime) -> bool:
    stmt = (
        upsert(session, IdempotencyKey)
        .values(
            facility_id=claim.facility_id,
            token_id=claim.token_id,
            idempotency_key=claim.key,
            request_hash=claim.request_hash,
            request_method=claim.method,
            request_path=claim.path,
            created_stamp=now,
            expires_at=now + claim.policy.lifetime,
        )
        .on_conflict_do_nothing(index_elements=["facility_id", "token_id", "idempotency_key"])
        .returning(IdempotencyKey.idempotency_key)
    )
    try:
        with lock_wait_at_most(session, claim.policy.claim_wait):
            inserted = session.execute(stmt).scalar_one_or_none()
    except LockWaitExceeded as exc:
        raise IdempotencyInProgress(f"Idempotency-Key {claim.key} is being used by another request") from exc
    return inserted is not None


def _key_is(claim: KeyClaim) -> tuple[ColumnElement[bool], ...]:
    return (
        IdempotencyKey.facility_id == claim.facility_id,
        IdempotencyKey.token_id == claim.token_id,
        IdempotencyKey.idempotency_key == claim.key,
    )
