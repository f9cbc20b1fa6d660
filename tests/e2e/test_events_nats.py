"""Events through the real NATS JetStream server: publisher, restart, outage, inbound OrderConfirmed.

Each test makes its own stream and subjects (unique names) and deletes only those.
"""

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from stockledger.cli import app as cli_app
from stockledger.core.db import Database
from stockledger.events.deployment import outbox_last
from stockledger.events.models import ProcessedMessage, PublisherPosition
from stockledger.events.publisher import (
    BrokerUnavailable,
    PublisherConfig,
    StreamDiverged,
    deployment_of,
    position,
    publish_pending,
)
from stockledger.events.rules import message_id
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.oms.consumer import ConsumerConfig, consume

NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"SLTEST_{tag}", f"sltest_{tag}"
    yield stream, prefix
    asyncio.run(_delete_streams([stream, f"{stream}_IN"]))


async def _delete_streams(streams: list[str]) -> None:
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    for name in streams:
        with contextlib.suppress(Exception):  # never created by this test
            await js.delete_stream(name)
    await nc.close()


async def _stream_messages(stream: str) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    state = (await js.stream_info(stream)).state
    found = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else []:
        msg = await js.get_msg(stream, seq)
        found.append((msg.subject or "", dict(msg.headers or {}), json.loads(msg.data or b"{}")))
    await nc.close()
    return found


def _reserve(client: TestClient, order_id: str, quantity: int = 2) -> None:
    body = {
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": quantity}],
    }
    response = client.post(f"/v1/orders/{order_id}/reserve", json=body)
    assert response.status_code == 200, response.text


async def _publish_foreign(stream: str, subject: str, msg_ids: list[str]) -> None:
    """Messages of another sender on our stream (another deployment sharing it)."""
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    for msg_id in msg_ids:
        body = json.dumps({"eventSeq": 1, "from": "another deployment"}).encode()
        ack = await js.publish(subject, body, stream=stream, headers={"Nats-Msg-Id": msg_id})
        assert not ack.duplicate
    await nc.close()


def _position(db: Database, stream: str) -> int:
    with db.reading() as session:
        return position(session, stream)


def _status(db: Database, stream: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`stockledger events status` against this database and the real NATS server."""
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli_app, ["events", "status", "--stream", stream, "--nats-url", NATS_URL])
    return result.exit_code, result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_reservation_arrives_on_the_stream_exactly_as_in_the_feed(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str]
) -> None:
    stream, prefix = names
    _reserve(seeded_client, "ORDER-NATS-1")
    feed = seeded_client.get("/v1/events").json()["items"]
    reserved = [e for e in feed if e["eventType"] == "StockReserved"]
    assert reserved
    assert reserved[0]["payload"]["orderId"] == "ORDER-NATS-1"

    published = asyncio.run(publish_pending(seeded, PublisherConfig(NATS_URL, stream, prefix)))
    assert published == len(feed)
    messages = asyncio.run(_stream_messages(stream))
    assert [body for _, _, body in messages] == feed  # same JSON, same order
    for (subject, headers, body), event in zip(messages, feed, strict=True):
        assert subject == f"{prefix}.{event['facilityId']}.{event['eventType']}"
        assert headers["Nats-Msg-Id"] == message_id(deployment_of(seeded), event["eventSeq"])
        assert body["eventSeq"] == event["eventSeq"]


def test_a_restarted_publisher_sends_no_duplicate(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str]
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-NATS-2")
    first = asyncio.run(publish_pending(seeded, config))
    assert first > 0
    assert asyncio.run(publish_pending(seeded, config)) == 0  # restart: resumes from its position

    # A crash after the broker's ack but before the position was saved: the position is lost.
    with seeded.transaction() as session:
        session.execute(update(PublisherPosition).values(last_event_seq=0))
    assert asyncio.run(publish_pending(seeded, config)) == 0
    _reserve(seeded_client, "ORDER-NATS-3")
    assert asyncio.run(publish_pending(seeded, config)) == 1
    messages = asyncio.run(_stream_messages(stream))
    ids = [headers["Nats-Msg-Id"] for _, headers, _ in messages]
    assert len(ids) == len(set(ids)) == first + 1  # every event exactly once on the stream


def test_nats_down_writes_succeed_and_publish_later(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str]
) -> None:
    stream, prefix = names
    down = PublisherConfig(f"nats://127.0.0.1:{_closed_port()}", stream, prefix, connect_timeout=0.5)
    _reserve(seeded_client, "ORDER-NATS-4")
    with pytest.raises(BrokerUnavailable):
        asyncio.run(publish_pending(seeded, down))
    _reserve(seeded_client, "ORDER-NATS-5")  # writes go on while NATS is down
    with seeded.reading() as session:
        assert session.get(PublisherPosition, ("_", stream)) is None
    published = asyncio.run(publish_pending(seeded, PublisherConfig(NATS_URL, stream, prefix)))
    orders = [body["payload"].get("orderId") for _, _, body in asyncio.run(_stream_messages(stream))]
    assert published == len(orders)
    assert orders.count("ORDER-NATS-4") == 1
    assert orders.count("ORDER-NATS-5") == 1


async def _send_inbound(stream: str, prefix: str, messages: list[tuple[str, str, dict[str, Any]]]) -> None:
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    try:
        await js.stream_info(stream)
    except Exception:
        await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
    for subject, msg_id, body in messages:
        await js.publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": msg_id})
    await nc.close()


def _atp(db: Database, item_id: str) -> Decimal:
    with db.reading() as session:
        item = session.get(InventoryItem, ("FACILITY_1", item_id))
        assert item is not None
        return item.available_to_promise_total


def test_an_inbound_order_confirmed_reserves_stock_once(seeded: Database, names: tuple[str, str]) -> None:
    stream, prefix = names
    inbound_stream, inbound_prefix = f"{stream}_IN", f"{prefix}_in"
    before = _atp(seeded, "FG003-INV-001") + _atp(seeded, "FG003-INV-002")
    order = {
        "orderId": "OMS-ORDER-1",
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 5}],
    }
    too_much = {**order, "orderId": "OMS-ORDER-2"}
    too_much["items"] = [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 10_000}]
    subject = f"{inbound_prefix}.FACILITY_1.OrderConfirmed"
    asyncio.run(
        _send_inbound(
            inbound_stream, inbound_prefix, [(subject, "oms-1", order), (subject, "oms-2", too_much)]
        )
    )
    config = ConsumerConfig(NATS_URL, inbound_stream, inbound_prefix, durable=f"d{uuid.uuid4().hex[:8]}")
    handled = asyncio.run(consume(seeded, config, asyncio.Event(), idle_exit=True))
    assert handled == 2
    after = _atp(seeded, "FG003-INV-001") + _atp(seeded, "FG003-INV-002")
    assert after == before - 5
    with seeded.reading() as session:
        reservations = session.scalars(
            select(OrderItemInventoryReservation).where(
                OrderItemInventoryReservation.order_id == "OMS-ORDER-1"
            )
        ).all()
        outcomes = dict(session.execute(select(ProcessedMessage.message_id, ProcessedMessage.outcome)).all())
        refused = session.get(ProcessedMessage, ("FACILITY_1", "oms-2"))
    assert sum(r.quantity for r in reservations) == 5
    assert outcomes == {"oms-1": "applied", "oms-2": "refused"}
    assert refused is not None
    assert (refused.detail or "").startswith("insufficient_stock")

    # The OMS sends oms-1 again after JetStream's duplicate window: a new stream message, same id.
    again = asyncio.run(consume(seeded, config, asyncio.Event(), idle_exit=True))
    assert again == 0
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 2


def test_a_foreign_message_with_a_high_msg_id_does_not_silence_the_publisher(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-SHARED-1")
    first = asyncio.run(publish_pending(seeded, config))
    last = outbox_last(seeded)
    assert _position(seeded, stream) == last
    # Another deployment on the same stream: a huge Msg-Id, and the very numbers we use next.
    foreign = [str(last + 1), str(last + 2), f"other:{last + 3}", "1000000"]  # the last: 1,000,000
    asyncio.run(_publish_foreign(stream, f"{prefix}.ELSEWHERE.StockReserved", foreign))

    _reserve(seeded_client, "ORDER-SHARED-2")
    assert asyncio.run(publish_pending(seeded, config)) == outbox_last(seeded) - last
    assert _position(seeded, stream) == outbox_last(seeded) < 1_000_000
    ours = [b for _, h, b in asyncio.run(_stream_messages(stream)) if "from" not in b]
    assert len(ours) == first + outbox_last(seeded) - last
    assert [b["payload"].get("orderId") for b in ours].count("ORDER-SHARED-2") == 1
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output
    assert f"this deployment's last: eventSeq {outbox_last(seeded)}" in output
    assert "gap: 0 outbox events" in output

    _reserve(seeded_client, "ORDER-SHARED-3")  # not published yet: status shows the gap
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output
    assert f"gap: {outbox_last(seeded) - _position(seeded, stream)} outbox events after eventSeq" in output
    assert outbox_last(seeded) > _position(seeded, stream)


def test_a_stream_ahead_of_the_outbox_is_reported_and_stops_the_publisher(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-RESTORE-1")
    asyncio.run(publish_pending(seeded, config))
    last = outbox_last(seeded)
    # The database was restored from a backup taken before events last+1 … last+50 were published.
    ahead = message_id(deployment_of(seeded), last + 50)
    asyncio.run(_publish_foreign(stream, f"{prefix}.FACILITY_1.StockReserved", [ahead]))

    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert f"AHEAD: the stream holds eventSeq {last + 50} of this deployment" in output
    assert f"beyond the outbox's last {last}" in output

    _reserve(seeded_client, "ORDER-RESTORE-2")
    with pytest.raises(StreamDiverged) as stopped:  # neither skipped to nor reused
        asyncio.run(publish_pending(seeded, config))
    assert stopped.value.event_seq == last + 50
    assert _position(seeded, stream) == last


def test_another_body_under_one_of_our_numbers_is_reported_and_stops_the_publisher(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-DIVERGED-1")
    asyncio.run(publish_pending(seeded, config))
    last = outbox_last(seeded)
    # A restored database's next event number, already on the stream with another body.
    _reserve(seeded_client, "ORDER-DIVERGED-2")
    taken = message_id(deployment_of(seeded), last + 1)
    asyncio.run(_publish_foreign(stream, f"{prefix}.FACILITY_1.StockReserved", [taken]))

    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert f"DIVERGED: the stream's eventSeq {last + 1} of this deployment" in output
    with pytest.raises(StreamDiverged) as stopped:  # JetStream would drop our event last+1
        asyncio.run(publish_pending(seeded, config))
    assert stopped.value.event_seq == last + 1
    assert _position(seeded, stream) == last == outbox_last(seeded) - 1
