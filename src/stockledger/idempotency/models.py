"""The stored first answers of write requests that carried an Idempotency-Key."""

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockledger.core.model_base import Base, utcnow

UNKNOWN_FACILITY = "_"
NO_TOKEN = "_"  # a keyed write without a principal (none reaches /v1 past the auth middleware)


class IdempotencyKey(Base):
    """A key's claim and its first answer, committed in the request's own transaction.

    A key belongs to the token that sent it (SPEC §11, as Stripe's belong to an account):
    `token_id` is in the primary key, so another token's request with the same key is another
    key: it never sees, waits on, or is refused because of this row.

    `facility_id` comes first in the key for Citus (SPEC §9). It is the facility the request
    names in its path (`/v1/facilities/{facilityId}/…`) or at the top of its JSON body
    (`facilityId`, `originFacilityId`); when the request names none it is the fixed value
    UNKNOWN_FACILITY ('_'). The same key sent for another facility is another key too.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ix_idempotency_key_expires_at", "expires_at"),)
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    request_method: Mapped[str] = mapped_column(String(10))
    request_path: Mapped[str] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_content_type: Mapped[str | None] = mapped_column(String(255))
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
