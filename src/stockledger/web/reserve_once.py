"""One reservation per rendered reserve form: the form's one-time key, claimed like an Idempotency-Key.

Each reserve form the page renders carries a fresh `formKey`. Its first successful post claims the
key in the reservation's own transaction (idempotency.service, owned by the signed-in token, kept as
long as an Idempotency-Key) and stores the success message; the same form sent again (a stale tab, a
resubmission, the back button) reserves nothing and shows that first message. A refused post rolls
its claim back, so the corrected form may be sent again. A new form for the same order line is a new
reservation.
"""

import hashlib
import json
import re

from sqlalchemy.orm import Session

from stockledger.auth.rules import Principal
from stockledger.core.errors import Conflict
from stockledger.core.model_base import utcnow
from stockledger.idempotency.rules import KeyPolicy
from stockledger.idempotency.service import (
    IdempotencyMismatch,
    KeyClaim,
    StoredAnswer,
    claim_key,
    store_answer,
)
from stockledger.web.queries import line_held
from stockledger.web.templating import quantity

FIELD = "formKey"
KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
SENT_FIELDS = ("orderId", "orderItemSeqId", "quantity", "fill")


def valid_form_key(key: str) -> bool:
    return KEY_SHAPE.fullmatch(key) is not None


def form_claim(
    principal: Principal, facility_id: str, path: str, values: dict[str, str], policy: KeyPolicy
) -> KeyClaim:
    sent = json.dumps({name: values.get(name, "") for name in SENT_FIELDS}, sort_keys=True)
    digest = hashlib.sha256(sent.encode()).hexdigest()
    key = f"ui-reserve:{values[FIELD]}"
    return KeyClaim(facility_id, principal.token_id, key, digest, "POST", path, policy)


def first_answer(session: Session, claim: KeyClaim) -> str | None:
    """None when this form is sent for the first time (its key is now claimed), else what it did then."""
    try:
        stored = claim_key(session, claim, utcnow())
    except IdempotencyMismatch as exc:
        raise Conflict(
            "This form was already sent with other values, and reserved then. Nothing more was reserved: "
            "reload the page to make a new reservation."
        ) from exc
    if stored is None:
        return None
    return f"This form was already sent: nothing more was reserved. Then: {stored.body.decode()}"


def remember(session: Session, claim: KeyClaim, message: str) -> None:
    store_answer(session, claim, StoredAnswer(200, "text/plain", message.encode()))


def line_total(session: Session, facility_id: str, order_id: str, seq_id: str) -> str:
    """What the order line now holds here in total, in staff words."""
    held, short = line_held(session, facility_id, order_id, seq_id)
    backordered = f" ({quantity(short)} of it backordered)" if short else ""
    return f"Order line {order_id}/{seq_id} now holds {quantity(held)} here in total{backordered}."
