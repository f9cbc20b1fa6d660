"""Deliver the outbox to NATS JetStream, at least once, in sequence order (SPEC §7).

Stream STOCKLEDGER (subjects `stockledger.>`); subject `stockledger.<facilityId>.<EventType>`;
body = the event's item of GET /v1/events; header Nats-Msg-Id = `<deploymentId>:<eventSeq>`,
so JetStream drops a re-send inside its duplicate window (and nobody else's message). The
position (publisher_position) moves only after the broker acknowledged, so a crash re-sends at
most the unacknowledged tail. On connect the publisher also finds the eventSeq of THIS
deployment's last message on the stream (events/stream_state.py; other senders' messages are
ignored) and skips up to it when its body is the outbox's event of that number: a crash between
the broker's ack and our position update re-sends nothing, whatever the window, and a stream
ahead of a restored database is never skipped to.

A duplicate ack means JetStream already holds a message with this id and dropped ours: fine
when the stored message is this very event (a retry after a lost ack), otherwise the event
would be lost, so the publisher stops there (StreamDiverged) and never moves past it; so it
does at connect when the stream holds one of our next numbers with another body (a restored or
cloned database, a forged message). The way out: `stockledger events new-deployment-id`.
NATS down: writes go on (the outbox keeps the events); publishing resumes later.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError
from sqlalchemy import update
from sqlalchemy.orm import Session

from stockledger.core.config import Settings, default
from stockledger.core.db import Database
from stockledger.core.dialects import upsert
from stockledger.core.disconnects import LOST, describe
from stockledger.core.model_base import utcnow
from stockledger.core.transactions import command_transaction
from stockledger.events.deployment import deployment_id, is_outbox_event, known_deployment_id
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
    batch_size: int = default("publish_batch_size")
    connect_timeout: float = default("nats_connect_seconds")
    poll_seconds: float = default("publish_poll_seconds")
    backoff_max_seconds: float = default("publish_backoff_max_seconds")  # the longest wait between tries

    @classmethod
    def of(cls, settings: Settings, nats_url: str, stream: str, subject_prefix: str) -> "PublisherConfig":
        """The publisher of `settings`: their batch size, NATS connect timeout, poll interval and
        longest backoff."""
        return cls(
            nats_url,
            stream,
            subject_prefix,
            settings.publish_batch_size,
            settings.nats_connect_seconds,
            settings.publish_poll_seconds,
            settings.publish_backoff_max_seconds,
        )


class BrokerUnavailable(Exception):
    """NATS could not be reached or did not acknowledge."""


class StreamDiverged(Exception):
    """The stream holds this deployment's message `event_seq` with another body than the
    outbox's event: publishing it would lose it (JetStream drops it as a duplicate) or reuse a
    number consumers have seen. The publisher stops before it; `published`: events sent first."""

    def __init__(
        self, stream: str, event_seq: int, stream_seq: int | None, published: int = 0, gone: bool = False
    ) -> None:
        self.stream, self.event_seq, self.stream_seq = stream, event_seq, stream_seq
        self.published = published
        where = f" (stream sequence {stream_seq})" if stream_seq is not None else ""
        if gone:  # the duplicate ack points at a message deleted since: ours or not, unknowable
            super().__init__(
                f"stream {stream} held a message under the id of eventSeq {event_seq} of this deployment"
                f"{where}, deleted since: JetStream drops the outbox's event {event_seq} as its duplicate "
                "for the stream's duplicate window, and consumers may have seen another event under this "
                "number (a forged message, or ours deleted after a lost ack): publishing stopped (the "
                f"unpublished events stay in the outbox). {FIX}"
            )
            return
        super().__init__(
            f"stream {stream} already holds eventSeq {event_seq} of this deployment{where}, and it is not "
            f"the outbox's event {event_seq}: publishing stopped (the unpublished events stay in the "
            f"outbox). A restored or cloned database, or a forged message: {FIX}"
        )


FIX = (
    "run `stockledger events new-deployment-id`, then publish again (docs/operations.md, Backups and restore)"
)


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
        deployment = await asyncio.to_thread(deployment_of, db)
        await _catch_up_with_stream(db, js, config.stream, deployment)
        return await _publish_batches(db, js, config, deployment)
    finally:
        await nc.close()


async def publish_forever(db: Database, config: PublisherConfig, stop: asyncio.Event) -> None:
    """Keep publishing until `stop` is set; NATS outages are waited out with a backoff."""
    delay = config.poll_seconds
    reported = ""  # a divergence is logged once, not at every retry
    while not stop.is_set():
        try:
            published = await publish_pending(db, config)
            delay, reported = config.poll_seconds, ""
            log.debug("published %d events", published)
        except BrokerUnavailable as exc:
            log.warning("%s; events stay in the outbox", exc)
            delay = min(delay * 2, config.backoff_max_seconds)
        except StreamDiverged as exc:
            if str(exc) != reported:
                log.error("%s", exc)
                reported = str(exc)
            delay = config.backoff_max_seconds
        except LOST as exc:  # one line: the connection's loss is expected, its SQL is noise
            log.warning("the publisher lost its database connection (%s); retrying", describe(exc))
            delay = min(delay * 2, config.backoff_max_seconds)
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
        acknowledged, diverged = await _publish(js, config, events, deployment)
        if acknowledged:
            await asyncio.to_thread(_advance, db, config.stream, acknowledged[-1])
            total += len(acknowledged)
        if diverged is not None:
            diverged.published = total
            raise diverged
        if len(acknowledged) < len(events):
            raise BrokerUnavailable(f"NATS stopped acknowledging after {total} events")


async def _publish(
    js: JetStreamContext, config: PublisherConfig, events: list[FeedEvent], deployment: str
) -> tuple[list[int], StreamDiverged | None]:
    """The eventSeqs acknowledged as stored, in order; and the divergence that stopped them, if any."""
    done: list[int] = []
    for event in events:
        subject = event_subject(config.subject_prefix, event.facility_id, event.event_type)
        headers = {MSG_ID: message_id(deployment, event.event_seq)}
        body = event_body(event)
        try:
            ack = await js.publish(subject, body, stream=config.stream, headers=headers)
            if ack.duplicate and (stored := await _stored_body(js, config.stream, ack)) != body:
                return done, StreamDiverged(config.stream, event.event_seq, ack.seq, gone=stored is None)
        except Exception as exc:  # timeout, no responders, connection closed
            log.warning("publishing event %d failed: %s", event.event_seq, exc)
            break
        done.append(event.event_seq)
    return done, None


async def _stored_body(js: JetStreamContext, stream: str, ack: PubAck) -> bytes | None:
    """The body of the message a duplicate ack points at (the first one with this id): ours, byte
    for byte, when this is a re-send after a lost ack. None: deleted since (JetStream still
    remembers its id for the duplicate window)."""
    try:
        return (await js.get_msg(stream, ack.seq)).data or b""
    except NotFoundError:
        return None


async def _catch_up_with_stream(db: Database, js: JetStreamContext, stream: str, deployment: str) -> None:
    """Skip what the stream already holds of ours (acknowledged, but our position was not saved),
    once its last message is known to be the outbox's event of that number. When it is not (a
    restored or cloned database, a forged message) and its number is one we have still to
    publish, stop (StreamDiverged); an old number is only logged (status reports it)."""
    state = await stream_state(js, stream, deployment)
    if state.own_last is None:
        return
    if not await asyncio.to_thread(is_outbox_event, db, state.own_last, state.own_body):
        if state.own_last > await asyncio.to_thread(_position, db, stream):
            raise StreamDiverged(stream, state.own_last, state.own_seq)
        log.warning(
            "stream %s holds eventSeq %d of this deployment, which is not the outbox's event %d "
            "(a forged message?); see `stockledger events status`",
            stream,
            state.own_last,
            state.own_last,
        )
        return
    await asyncio.to_thread(_advance, db, stream, state.own_last)


def deployment_of(db: Database) -> str:
    """This deployment's id (events.deployment.deployment_id): read, or on first use made in a
    transaction of its own, which the publisher owns."""
    with db.reading() as session:
        found = known_deployment_id(session)
    if found is not None:
        return found
    with command_transaction(db) as session:
        return deployment_id(session)


def _next_batch(db: Database, publisher: str, size: int) -> list[FeedEvent]:
    with db.reading() as session:
        return read_feed(session, position(session, publisher), size)


def _position(db: Database, publisher: str) -> int:
    with db.reading() as session:
        return position(session, publisher)


def position(session: Session, publisher: str) -> int:
    row = session.get(PublisherPosition, (ALL_FACILITIES, publisher))
    return row.last_event_seq if row else 0


def _advance(db: Database, publisher: str, seq: int) -> None:
    """Move the position forward (never back: a slower twin publisher cannot rewind it), in a
    transaction of its own, which the publisher owns."""
    with command_transaction(db) as session:
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
