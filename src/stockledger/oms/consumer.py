"""Consume inbound OMS messages from JetStream (stream OMS, subjects `oms.<facilityId>.<Type>`)."""

import asyncio
import logging
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout

from stockledger.core.db import Database
from stockledger.core.transactions import command_transaction
from stockledger.events.publisher import connect, ensure_stream
from stockledger.events.rules import inbound_type
from stockledger.events.stream_state import MSG_ID
from stockledger.oms.inbound import INBOUND_USER, apply_message

log = logging.getLogger("stockledger.events")  # the name operators collect (docs/operations.md)


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    nats_url: str
    stream: str = "OMS"
    subject_prefix: str = "oms"
    durable: str = "stockledger"
    batch_size: int = 50
    connect_timeout: float = 2.0
    user: str | None = None  # recorded on the rows its messages write; None: nats:<durable>

    @property
    def acting_user(self) -> str:
        return self.user or f"nats:{self.durable}"


def message_id(msg: Msg) -> str:
    """The sender's Nats-Msg-Id, whole (apply_message refuses one it cannot store, never cuts
    it), else the stream and its sequence (unique within the stream)."""
    given = (msg.headers or {}).get(MSG_ID)
    if given:
        return str(given)
    return f"{msg.metadata.stream}:{msg.metadata.sequence.stream}"


async def consume(db: Database, config: ConsumerConfig, stop: asyncio.Event, idle_exit: bool = False) -> int:
    """Apply inbound messages until `stop` (or, with idle_exit, until none is waiting); returns the count."""
    nc = await connect(config.nats_url, config.connect_timeout)
    handled = 0
    try:
        js = nc.jetstream()
        await ensure_stream(js, config.stream, [f"{config.subject_prefix}.>"])
        sub = await js.pull_subscribe(
            f"{config.subject_prefix}.>", durable=config.durable, stream=config.stream
        )
        while not stop.is_set():
            try:
                messages = await sub.fetch(config.batch_size, timeout=1.0)
            except (NatsTimeout, TimeoutError):  # fetch raises either, depending on where it timed out
                if idle_exit:
                    return handled
                continue
            for msg in messages:
                await _handle(db, msg, config.acting_user)
                handled += 1
        return handled
    finally:
        await nc.close()


def apply_one(db: Database, message_type: str, message_id: str, body: bytes, user: str = INBOUND_USER) -> str:
    """One inbound message in a transaction of its own, which the consumer owns, for `user`:
    applied (or refused, or a duplicate) and recorded as processed together."""
    with command_transaction(db, user) as session:
        return apply_message(session, message_type, message_id, body)


async def _handle(db: Database, msg: Msg, user: str) -> None:
    try:
        outcome = await asyncio.to_thread(
            apply_one, db, inbound_type(msg.subject), message_id(msg), msg.data, user
        )
    except Exception:  # the database, not the message: let JetStream deliver it again
        log.exception("inbound %s not applied; redelivery in 5 s", msg.subject)
        await msg.nak(delay=5)
        return
    log.info("inbound %s %s: %s", msg.subject, message_id(msg), outcome)
    await msg.ack()
