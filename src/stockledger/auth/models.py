"""API tokens: stored as a SHA-256 hash of the secret, never in plain text."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockledger.core.model_base import Base, utcnow


class ApiToken(Base):
    __tablename__ = "api_token"
    token_id: Mapped[str] = mapped_column(primary_key=True)  # the public part of the token
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    facilities: Mapped[str | None] = mapped_column(Text)  # JSON list; NULL = every facility
    description: Mapped[str | None] = mapped_column(String(255))
    user_login_id: Mapped[str | None]  # whom it acts for (migration 0011); None: its id
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_stamp: Mapped[datetime | None]
