"""Malformed inbound OMS messages through the real NATS JetStream: each is refused once, recorded
`refused` and acknowledged (docs/events.md), never NAKed for ever; a message id the database
cannot store (a NUL, a control character, over 255 characters) is refused under a hash of the
whole id, so two long ids that share their first 255 characters stay two messages.
"""

import asyncio
import hashlib
import json
import logging
import socket
import time

import nats
import pytest
from sqlalchemy import select

from stockledger.core.db import Database
from stockledger.events.models import ProcessedMessage
from stockledger.ledger.models import OrderItemInventoryReservation
from stockledger.oms.consumer import ConsumerConfig, consume
from tests.e2e.test_events_inbound_nats import WINDOW, inbound
from tests.shipping_support import snapshot

__all__ = ["inbound"]  # the fixture, imported for pytest


def _order(order_id: str) -> bytes:
    return json.dumps(
        {
            "orderId": order_id,
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 1}],
        }
    ).encode()


def _hashed(msg_id: str) -> str:
    return "invalid:sha256:" + hashlib.sha256(msg_id.encode()).hexdigest()


async def _send_raw(config: ConsumerConfig, messages: list[tuple[str, bytes]]) -> None:
    nc = await nats.connect("nats://127.0.0.1:4222")
    js = nc.jetstream()
    for msg_id, body in messages:
        await js.publish(
            f"{config.subject_prefix}.FACILITY_1.OrderConfirmed", body, headers={"Nats-Msg-Id": msg_id}
        )
    await nc.close()


async def _unacknowledged(config: ConsumerConfig) -> tuple[int, int]:
    """(waiting to be delivered, delivered and not acknowledged) of the durable consumer."""
    nc = await nats.connect("nats://127.0.0.1:4222")
    info = await nc.jetstream().consumer_info(config.stream, config.durable)
    await nc.close()
    return info.num_pending or 0, info.num_ack_pending or 0


def _consume_all(db: Database, config: ConsumerConfig, expected: int) -> int:
    handled = 0
    for _ in range(10):  # an idle exit may come before a slow first fetch sees the messages
        handled += asyncio.run(consume(db, config, asyncio.Event(), idle_exit=True))
        if handled >= expected:
            break
    return handled


def _recorded(db: Database) -> dict[str, tuple[str, str]]:
    with db.reading() as session:
        rows = session.execute(
            select(ProcessedMessage.message_id, ProcessedMessage.outcome, ProcessedMessage.detail)
        ).all()
    return {m: (o, d or "") for m, o, d in rows}


def test_malformed_messages_are_refused_once_and_acknowledged(
    seeded: Database, inbound: ConsumerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshot(seeded)
    messages = [
        ("deep-1", b"[" * 100_000),  # RecursionError in json.loads
        ("deep-2", b'{"a":' * 100_000),
        ("nul\x00id", _order("OMS-NUL-ID")),  # PostgreSQL cannot store the id
        ("ctl\x01id", _order("OMS-CTL-ID")),
        ("nul-in-body", _order("OMS-\u0000")),  # nor a NUL in the order id
        ("lone-surrogate", _order("OMS-\ud800")),
    ]
    asyncio.run(_send_raw(inbound, messages))
    with caplog.at_level(logging.INFO, logger="stockledger.events"):
        assert _consume_all(seeded, inbound, len(messages)) == len(messages)
    assert asyncio.run(_unacknowledged(inbound)) == (0, 0)  # every one acknowledged
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    recorded = _recorded(seeded)
    assert {m: o for m, (o, _) in recorded.items()} == {
        "deep-1": "refused",
        "deep-2": "refused",
        _hashed("nul\x00id"): "refused",
        _hashed("ctl\x01id"): "refused",
        "nul-in-body": "refused",
        "lone-surrogate": "refused",
    }
    assert recorded["deep-1"][1].startswith("malformed_json: ")
    assert recorded[_hashed("nul\x00id")][1].startswith("invalid_message_id: ")
    assert recorded["nul-in-body"][1].startswith("validation_failed: ")
    assert recorded["lone-surrogate"][1].startswith("validation_failed: ")
    assert snapshot(seeded) == before  # nothing applied

    time.sleep(WINDOW + 0.5)  # past JetStream's window: the re-sends are new stream messages
    asyncio.run(_send_raw(inbound, messages))
    assert _consume_all(seeded, inbound, len(messages)) == len(messages)
    assert asyncio.run(_unacknowledged(inbound)) == (0, 0)
    assert _recorded(seeded) == recorded  # each a duplicate now: recorded once
    assert snapshot(seeded) == before


def test_two_long_ids_with_the_same_first_255_characters_are_two_messages(
    seeded: Database, inbound: ConsumerConfig
) -> None:
    """Cut to 255 characters, the second id was the first's: its message was dropped as handled."""
    shared = "oms-" + "x" * 251
    first, second = shared + "-first", shared + "-second"
    before = snapshot(seeded)
    asyncio.run(_send_raw(inbound, [(first, _order("OMS-LONG-1")), (second, _order("OMS-LONG-2"))]))
    assert _consume_all(seeded, inbound, 2) == 2
    assert asyncio.run(_unacknowledged(inbound)) == (0, 0)
    recorded = _recorded(seeded)
    assert sorted(recorded) == sorted([_hashed(first), _hashed(second)])
    assert {o for o, _ in recorded.values()} == {"refused"}
    assert recorded[_hashed(first)][1] == "invalid_message_id: Nats-Msg-Id is 261 characters, over 255"
    assert snapshot(seeded) == before  # refused, not applied: the OMS must send an id of 255 or less

    time.sleep(WINDOW + 0.5)
    asyncio.run(_send_raw(inbound, [(second, _order("OMS-LONG-2"))]))
    assert _consume_all(seeded, inbound, 1) == 1
    assert _recorded(seeded) == recorded  # a redelivery of the second: a duplicate


def _hpub(subject: str, msg_id: bytes, body: bytes) -> bytes:
    headers = b"NATS/1.0\r\nNats-Msg-Id: " + msg_id + b"\r\n\r\n"
    head = f"HPUB {subject} {len(headers)} {len(headers) + len(body)}\r\n".encode()
    return head + headers + body + b"\r\n"


def _send_raw_bytes(config: ConsumerConfig, messages: list[tuple[bytes, bytes]]) -> None:
    """As the tester did: nats-py will not send an id that is not UTF-8, a raw socket will."""
    with socket.create_connection(("127.0.0.1", 4222), timeout=5) as sock:
        sock.recv(4096)  # INFO
        sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n')
        subject = f"{config.subject_prefix}.FACILITY_1.OrderConfirmed"
        sock.sendall(b"".join(_hpub(subject, msg_id, body) for msg_id, body in messages) + b"PING\r\n")
        answer = b""
        while b"PONG" not in answer and b"-ERR" not in answer:
            answer += sock.recv(4096)
        assert b"-ERR" not in answer, answer


def test_ids_that_are_not_utf8_are_each_refused_never_one_dropped(
    seeded: Database, inbound: ConsumerConfig
) -> None:
    """nats-py decodes 0xFF and 0xFE to U+FFFD: both were one stored id with a real U+FFFD, the first
    applied and the others dropped as handled. Now each id that is not UTF-8 is refused under a hash
    of its raw bytes, and the real U+FFFD (valid UTF-8) is an id of its own, applied."""
    bad_ff, bad_fe, real = b"t17b-u2-\xff", b"t17b-u2-\xfe", b"t17b-u2-\xef\xbf\xbd"
    _send_raw_bytes(
        inbound, [(bad_ff, _order("OMS-U2-FF")), (bad_fe, _order("OMS-U2-FE")), (real, _order("OMS-U2-REAL"))]
    )
    assert _consume_all(seeded, inbound, 3) == 3
    assert asyncio.run(_unacknowledged(inbound)) == (0, 0)
    recorded = _recorded(seeded)
    hashed = {raw: "invalid:sha256:" + hashlib.sha256(raw).hexdigest() for raw in (bad_ff, bad_fe)}
    assert recorded == {
        hashed[bad_ff]: ("refused", "invalid_message_id: Nats-Msg-Id is not valid UTF-8"),
        hashed[bad_fe]: ("refused", "invalid_message_id: Nats-Msg-Id is not valid UTF-8"),
        "t17b-u2-\ufffd": ("applied", ""),
    }
    with seeded.reading() as session:
        reserved = session.execute(
            select(OrderItemInventoryReservation.order_id).where(
                OrderItemInventoryReservation.order_id.like("OMS-U2-%")
            )
        ).scalars()
        assert sorted(set(reserved)) == ["OMS-U2-REAL"]

    _send_raw_bytes(inbound, [(bad_ff, _order("OMS-U2-FF")), (real, _order("OMS-U2-REAL"))])  # re-sent
    assert _consume_all(seeded, inbound, 2) == 2
    assert _recorded(seeded) == recorded  # duplicates now, recorded once
