"""The transactional outbox: one row per business change, written in its transaction."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockledger.core.model_base import Base, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_seq", "event_seq"),)
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    event_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # global, increasing
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)  # JSON, camelCase
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class SequenceValue(Base):
    """Counters for databases without sequences (SQLite); PostgreSQL uses real sequences."""

    __tablename__ = "sequence_value"
    sequence_name: Mapped[str] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)
