"""Deliver the outbox to NATS JetStream, at least once, in sequence order (SPEC §7).

Stream STOCKLEDGER (subjects `stockledger.>`); subject `stockledger.<facilityId>.<EventType>`;
body = the event's item of GET /v1/events; header Nats-Msg-Id = `<deploymentId>:<eventSeq>`,
so JetStream drops a re-send inside its duplicate window (and nobody else's message). The
position (publisher_position) moves only after the broker acknowledged, so a crash re-sends at
most the unacknowledged tail. On connect the publisher also finds the eventSeq of THIS
deployment's last message on the stream (events/stream_state.py; other senders' messages are
ignored) and skips up to it when its body is the outbox's event of that number: a crash between
the broker's ack and our position update re-sends nothing, whatever the window, and a stream
ahead of a restored database is logged and reported (`events status`), never skipped to.
NATS down: writes go on (the outbox keeps the events); publishing resumes later.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import update
from sqlalchemy.orm import Session

from stockledger.core.db import Database, upsert
from stockledger.core.model_base import utcnow
from stockledger.events.deployment import deployment_id, is_outbox_event
from stockledger.events.feed import FeedEvent, read_feed
from stockledger.events.models import PublisherPosition
from stockledger.events.rules import event_subject, message_id
from stockledger.events.schemas import event_body
from stockledger.events.stream_state import MSG_ID, stream_state

log = logging.getLogger("stockledger.events")
ALL_FACILITIES = "_"


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    nats_url: str
    stream: str = "STOCKLEDGER"
    subject_prefix: str = "stockledger"
    batch_size: int = 500
    connect_timeout: float = 2.0
    poll_seconds: float = 0.5


class BrokerUnavailable(Exception):
    """NATS could not be reached or did not acknowledge."""


async def connect(url: str, timeout: float) -> Client:
    try:
        # max_reconnect_attempts=0 would retry for ever inside connect(); 1 gives up quickly.
        return await nats.connect(
            url,
            connect_timeout=timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=_quiet,
        )
    except Exception as exc:  # nats raises several unrelated types for "cannot connect"
        raise BrokerUnavailable(f"NATS at {url} is unreachable: {exc}") from exc


async def _quiet(exc: Exception) -> None:
    log.debug("nats: %s", exc)


async def ensure_stream(js: JetStreamContext, stream: str, subjects: list[str]) -> None:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(name=stream, subjects=subjects)


async def publish_pending(db: Database, config: PublisherConfig) -> int:
    """Connect, publish every final event after the position, return how many were acknowledged."""
    nc = await connect(config.nats_url, config.connect_timeout)
    try:
        js = nc.jetstream()
        await ensure_stream(js, config.stream, [f"{config.subject_prefix}.>"])
        deployment = await asyncio.to_thread(deployment_id, db)
        await _catch_up_with_stream(db, js, config.stream, deployment)
        return await _publish_batches(db, js, config, deployment)
    finally:
        await nc.close()


async def publish_forever(db: Database, config: PublisherConfig, stop: asyncio.Event) -> None:
    """Keep publishing until `stop` is set; NATS outages are waited out with a backoff."""
    delay = config.poll_seconds
    while not stop.is_set():
        try:
            published = await publish_pending(db, config)
            delay = config.poll_seconds
            log.debug("published %d events", published)
        except BrokerUnavailable as exc:
            log.warning("%s; events stay in the outbox", exc)
            delay = min(delay * 2, 30.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


async def _publish_batches(
    db: Database, js: JetStreamContext, config: PublisherConfig, deployment: str
) -> int:
    total = 0
    while True:
        events = await asyncio.to_thread(_next_batch, db, config.stream, config.batch_size)
        if not events:
            return total
        acknowledged = await _publish(js, config, events, deployment)
        if acknowledged:
            await asyncio.to_thread(_advance, db, config.stream, acknowledged[-1])
            total += len(acknowledged)
        if len(acknowledged) < len(events):
            raise BrokerUnavailable(f"NATS stopped acknowledging after {total} events")


async def _publish(
    js: JetStreamContext, config: PublisherConfig, events: list[FeedEvent], deployment: str
) -> list[int]:
    done: list[int] = []
    for event in events:
        subject = event_subject(config.subject_prefix, event.facility_id, event.event_type)
        headers = {MSG_ID: message_id(deployment, event.event_seq)}
        try:
            await js.publish(subject, event_body(event), stream=config.stream, headers=headers)
        except Exception as exc:  # timeout, no responders, connection closed
            log.warning("publishing event %d failed: %s", event.event_seq, exc)
            break
        done.append(event.event_seq)
    return done


async def _catch_up_with_stream(db: Database, js: JetStreamContext, stream: str, deployment: str) -> None:
    """Skip what the stream already holds of ours (acknowledged, but our position was not saved),
    once its last message is known to be the outbox's event of that number: after a restore the
    stream may hold numbers the database has not reached, or reused; that is logged, not skipped to."""
    state = await stream_state(js, stream, deployment)
    if state.own_last is None:
        return
    if not await asyncio.to_thread(is_outbox_event, db, state.own_last, state.own_body):
        log.warning(
            "stream %s holds eventSeq %d of this deployment, which is not the outbox's event %d "
            "(a restored database?); see `stockledger events status`",
            stream,
            state.own_last,
            state.own_last,
        )
        return
    await asyncio.to_thread(_advance, db, stream, state.own_last)


def _next_batch(db: Database, publisher: str, size: int) -> list[FeedEvent]:
    with db.reading() as session:
        return read_feed(session, position(session, publisher), size)


def position(session: Session, publisher: str) -> int:
    row = session.get(PublisherPosition, (ALL_FACILITIES, publisher))
    return row.last_event_seq if row else 0


def _advance(db: Database, publisher: str, seq: int) -> None:
    """Move the position forward (never back: a slower twin publisher cannot rewind it)."""
    with db.transaction() as session:
        session.execute(
            upsert(session, PublisherPosition)
            .values(
                facility_id=ALL_FACILITIES, publisher_name=publisher, last_event_seq=0, updated_stamp=utcnow()
            )
            .on_conflict_do_nothing(index_elements=["facility_id", "publisher_name"])
        )
        session.execute(
            update(PublisherPosition)
            .where(
                PublisherPosition.facility_id == ALL_FACILITIES, PublisherPosition.publisher_name == publisher
            )
            .where(PublisherPosition.last_event_seq < seq)
            .values(last_event_seq=seq, updated_stamp=utcnow())
        )
