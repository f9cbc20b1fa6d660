"""This database's deployment id, made on first use and kept in the database (deployment_identity)."""

import uuid
from collections.abc import Collection

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.dialects import upsert
from stockledger.events.feed import event_at, events_at
from stockledger.events.models import DeploymentIdentity, OutboxEvent
from stockledger.events.schemas import event_body

IDENTITY = "publisher"


def deployment_id(session: Session) -> str:
    """The id stamped on this deployment's messages, made in the caller's transaction on first
    use; two racing first callers get the same one."""
    found = known_deployment_id(session)
    if found is not None:
        return found
    session.execute(
        upsert(session, DeploymentIdentity)
        .values(identity_name=IDENTITY, deployment_id=uuid.uuid4().hex[:16])
        .on_conflict_do_nothing(index_elements=["identity_name"])
    )
    return session.execute(_ID).scalar_one()


def known_deployment_id(session: Session) -> str | None:
    """The deployment id, if one was made (a read)."""
    return session.execute(_ID).scalar_one_or_none()


_ID = select(DeploymentIdentity.deployment_id).where(DeploymentIdentity.identity_name == IDENTITY)


def new_deployment_id(session: Session) -> tuple[str, str]:
    """Give this database a new deployment id, in the caller's transaction (a restored or cloned
    database, so that its events are not taken for, or dropped as, the original's); the old id
    and the new one. The position is kept: what was not published yet is published under the
    new id."""
    old = deployment_id(session)
    new = uuid.uuid4().hex[:16]
    session.execute(
        update(DeploymentIdentity)
        .where(DeploymentIdentity.identity_name == IDENTITY)
        .values(deployment_id=new)
    )
    return old, new


def outbox_last(db: Database) -> int:
    """The highest eventSeq in the outbox (0 when empty)."""
    with db.reading() as session:
        return int(session.execute(select(func.max(OutboxEvent.event_seq))).scalar() or 0)


def outbox_after(db: Database, event_seq: int) -> int:
    """How many outbox events come after `event_seq`."""
    with db.reading() as session:
        query = select(func.count()).where(OutboxEvent.event_seq > event_seq)
        return int(session.execute(query).scalar_one())


def outbox_between(db: Database, low: int, high: int) -> list[int]:
    """The eventSeqs of the outbox from `low` to `high`, both included, in order."""
    with db.reading() as session:
        query = select(OutboxEvent.event_seq).where(OutboxEvent.event_seq.between(low, high))
        return list(session.scalars(query.order_by(OutboxEvent.event_seq)))


def is_outbox_event(db: Database, event_seq: int, body: bytes) -> bool:
    """Whether `body` (a message of this deployment on the stream) is the outbox's event
    `event_seq`, byte for byte; not so after a restore, when the stream holds a lost future."""
    with db.reading() as session:
        event = event_at(session, event_seq)
    return event is not None and event_body(event) == body


def outbox_bodies(db: Database, event_seqs: Collection[int]) -> dict[int, bytes]:
    """The message body of each of these outbox events that exists, by eventSeq (one query)."""
    with db.reading() as session:
        return {event.event_seq: event_body(event) for event in events_at(session, event_seqs)}
