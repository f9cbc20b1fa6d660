"""Tables of the events capability: the outbox, the publisher's position, inbound messages seen."""

from datetime import datetime

from sqlalchemy import BigInteger, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockledger.core.model_base import Base, utcnow


class OutboxEvent(Base):
    """One business change, written in its transaction (SPEC §7); see events/feed.py for its order."""

    __tablename__ = "outbox_event"
    # led by event_seq: every read is in its order, none by facility (migration 0018)
    __table_args__ = (PrimaryKeyConstraint("event_seq", "facility_id"),)
    facility_id: Mapped[str]
    event_seq: Mapped[int] = mapped_column(BigInteger)  # global, increasing
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)  # JSON, camelCase
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class SequenceValue(Base):
    """Counters for databases without sequences (SQLite); PostgreSQL uses real sequences."""

    __tablename__ = "sequence_value"
    sequence_name: Mapped[str] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class PublisherPosition(Base):
    """The last event sequence a publisher had acknowledged by its broker (one row per stream).

    facility_id is ALL_FACILITIES ('_') for the one global feed; it leads the key so that,
    on Citus, a publisher per facility could keep its own row.
    """

    __tablename__ = "publisher_position"
    facility_id: Mapped[str] = mapped_column(primary_key=True, default="_")
    publisher_name: Mapped[str] = mapped_column(String(120), primary_key=True)
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedMessage(Base):
    """An inbound message already applied (or refused), written in the transaction of its effect."""

    __tablename__ = "processed_message"
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(30))  # applied | refused
    detail: Mapped[str | None] = mapped_column(Text)
    processed_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentIdentity(Base):
    """This database's deployment id: the publisher stamps it on every message (Nats-Msg-Id
    `<deploymentId>:<eventSeq>`) so that it recognises its own messages on a shared stream.
    One row (`identity_name` 'publisher'); it lives in the database, so it survives restarts
    and travels with a backup."""

    __tablename__ = "deployment_identity"
    identity_name: Mapped[str] = mapped_column(String(30), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(String(40))
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)
