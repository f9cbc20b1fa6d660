"""Consume inbound OMS messages from JetStream (stream OMS, subjects `oms.<facilityId>.<Type>`)."""

import asyncio
import base64
import json
import logging
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout

from stockledger.core.config import default
from stockledger.core.db import Database
from stockledger.core.transactions import command_transaction
from stockledger.events.publisher import connect, ensure_stream
from stockledger.events.rules import inbound_type
from stockledger.events.stream_state import MSG_ID
from stockledger.oms.inbound import INBOUND_USER, apply_message

log = logging.getLogger("stockledger.events")  # the name operators collect (docs/operations.md)
REPLACEMENT = "\ufffd"


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    nats_url: str
    stream: str = "OMS"
    subject_prefix: str = "oms"
    durable: str = "stockledger"
    batch_size: int = default("consume_batch_size")
    connect_timeout: float = default("nats_connect_seconds")
    fetch_timeout: float = default("consume_fetch_seconds")
    retry_seconds: float = default("consume_retry_seconds")  # a message not applied: redelivered after
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


async def sent_message_id(nc: Client, msg: Msg) -> str:
    """message_id, except that an id holding U+FFFD is read again from the stream's raw copy:
    nats-py decodes header values with errors="replace", so bytes 0xFF and 0xFE would both be
    U+FFFD, one id. The raw bytes are decoded with surrogateescape (apply_message refuses them
    under a hash of those bytes: oms/refusals.py); a real U+FFFD sent as UTF-8 stays itself."""
    given = message_id(msg)
    if REPLACEMENT not in given:
        return given
    raw = await raw_header(nc, msg.metadata.stream, msg.metadata.sequence.stream, MSG_ID)
    return raw.decode("utf-8", "surrogateescape")


async def raw_header(nc: Client, stream: str, sequence: int, name: str) -> bytes:
    """Header `name` of message `sequence` as stored, undecoded ($JS.API.STREAM.MSG.GET).
    Raises when it cannot be read (the caller NAKs: the message is delivered again)."""
    answer = await nc.request(f"$JS.API.STREAM.MSG.GET.{stream}", json.dumps({"seq": sequence}).encode())
    stored = json.loads(answer.data).get("message") or {}
    wanted, found = name.lower().encode(), None
    for line in base64.b64decode(stored.get("hdrs") or "").split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == wanted:
            found = value.strip()  # the last one, as nats-py's headers dict keeps
    if found is not None:
        return found
    raise LookupError(f"{stream} message {sequence} has no {name} as stored: {answer.data[:200]!r}")


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
                messages = await sub.fetch(config.batch_size, timeout=config.fetch_timeout)
            except (NatsTimeout, TimeoutError):  # fetch raises either, depending on where it timed out
                if idle_exit:
                    return handled
                continue
            for msg in messages:
                await _handle(db, nc, msg, config)
                handled += 1
        return handled
    finally:
        await nc.close()


def apply_one(db: Database, message_type: str, message_id: str, body: bytes, user: str = INBOUND_USER) -> str:
    """One inbound message in a transaction of its own, which the consumer owns, for `user`:
    applied (or refused, or a duplicate) and recorded as processed together."""
    with command_transaction(db, user) as session:
        return apply_message(session, message_type, message_id, body)


async def _handle(db: Database, nc: Client, msg: Msg, config: ConsumerConfig) -> None:
    user = config.acting_user
    msg_id = message_id(msg)
    try:
        msg_id = await sent_message_id(nc, msg)
        outcome = await asyncio.to_thread(apply_one, db, inbound_type(msg.subject), msg_id, msg.data, user)
    except Exception:  # the database (or the raw id's read), not the message: deliver it again
        wait = config.retry_seconds
        log.exception("inbound %s %r not applied; redelivery in %s s", msg.subject, msg_id, wait)
        await msg.nak(delay=wait)
        return
    log.info("inbound %s %r: %s", msg.subject, msg_id, outcome)
    await msg.ack()
