"""Create, list, revoke and authenticate API tokens."""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.auth.models import ApiToken
from stockledger.auth.rules import ROLES, Principal
from stockledger.core.actor import check_user
from stockledger.core.errors import NotFound, ValidationFailed
from stockledger.core.model_base import utcnow
from stockledger.ledger.models import Facility

PREFIX = "sl"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # shown once; only its hash is stored
    token_id: str
    role: str
    facilities: list[str] | None
    user_login_id: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    role: str
    facilities: list[str] | None
    description: str | None
    created_stamp: datetime
    revoked_stamp: datetime | None
    user_login_id: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    role: str,
    facilities: list[str] | None = None,
    description: str | None = None,
    user: str | None = None,
) -> IssuedToken:
    """A new token acting for `user` (None: its own id); the plain text is returned once, never stored."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role}; one of {', '.join(ROLES)}", role=role)
    if user is not None:
        check_user(user)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_id=token_id,
            token_hash=_hash(secret),
            role=role,
            facilities=json.dumps(sorted(set(facilities))) if facilities else None,
            description=description,
            user_login_id=user or token_id,
        )
    )
    session.flush()
    scope = sorted(set(facilities or [])) or None
    return IssuedToken(f"{PREFIX}_{token_id}_{secret}", token_id, role, scope, user or token_id)


def require_facilities(session: Session, facilities: list[str] | None) -> None:
    """Refuse a scope naming a facility that does not exist (a typo would lock the token out)."""
    unknown = sorted({f for f in facilities or [] if session.get(Facility, f) is None})
    if unknown:
        raise ValidationFailed(f"Unknown facility {', '.join(unknown)}", facilityIds=unknown)


def list_tokens(session: Session) -> list[TokenInfo]:
    rows = session.scalars(select(ApiToken).order_by(ApiToken.created_stamp, ApiToken.token_id))
    return [
        TokenInfo(
            t.token_id,
            t.role,
            _facilities(t),
            t.description,
            t.created_stamp,
            t.revoked_stamp,
            t.user_login_id or t.token_id,
        )
        for t in rows
    ]


def revoke_token(session: Session, token_id: str) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"Token {token_id} not found", tokenId=token_id)
    if token.revoked_stamp is None:
        token.revoked_stamp = utcnow()


def authenticate(session: Session, raw: str) -> Principal | None:
    """The principal of a presented token, or None if it is unknown, malformed or revoked."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    token = session.get(ApiToken, parts[1])
    if token is None or token.revoked_stamp is not None:
        return None
    if not hmac.compare_digest(token.token_hash, _hash(parts[2])):
        return None
    facilities = _facilities(token)
    scope = frozenset(facilities) if facilities else None
    return Principal(token.token_id, token.role, scope, token.user_login_id or token.token_id)


def _facilities(token: ApiToken) -> list[str] | None:
    return list(json.loads(token.facilities)) if token.facilities else None
