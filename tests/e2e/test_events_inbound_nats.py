"""Inbound ShipmentConfirmed and ReturnReceived through the real NATS JetStream, each applied once.

Each test makes its own stream (duplicate window 1 s, so the OMS's re-send after the window is a
new stream message with the same Nats-Msg-Id), its own durable consumer, and deletes the stream.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from nats.js.api import StreamConfig
from sqlalchemy import select, text

from stockledger.core.db import Database
from stockledger.events.models import ProcessedMessage
from stockledger.ledger.models import ItemIssuance, ReturnItem, Shipment
from stockledger.oms.consumer import ConsumerConfig, consume
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosSaleIn
from tests.shipping_support import events, product_totals, snapshot

SOLD_LINE = {"orderItemSeqId": "00001", "productId": "FG001"}

NATS_URL = "nats://127.0.0.1:4222"
WINDOW = 1.0  # seconds: JetStream's duplicate window of the test stream


@pytest.fixture
def inbound() -> Iterator[ConsumerConfig]:
    tag = uuid.uuid4().hex[:10]
    config = ConsumerConfig(NATS_URL, f"SLIN_{tag}", f"slin_{tag}", durable=f"d{tag}")
    asyncio.run(_create_stream(config))
    yield config
    asyncio.run(_delete_stream(config.stream))


async def _create_stream(config: ConsumerConfig) -> None:
    nc = await nats.connect(NATS_URL)
    await nc.jetstream().add_stream(
        StreamConfig(name=config.stream, subjects=[f"{config.subject_prefix}.>"], duplicate_window=WINDOW)
    )
    await nc.close()


async def _delete_stream(stream: str) -> None:
    nc = await nats.connect(NATS_URL)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(stream)
    await nc.close()


async def _send(config: ConsumerConfig, message_type: str, msg_id: str, body: dict[str, Any]) -> None:
    nc = await nats.connect(NATS_URL)
    subject = f"{config.subject_prefix}.FACILITY_1.{message_type}"
    await nc.jetstream().publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": msg_id})
    await nc.close()


def _deliver(
    db: Database, config: ConsumerConfig, message_type: str, msg_id: str, body: dict[str, Any]
) -> int:
    """Send one message to the stream, then consume until idle; how many messages were handled."""
    asyncio.run(_send(config, message_type, msg_id, body))
    handled = 0
    for _ in range(5):  # an idle exit may come before a slow first fetch sees the message
        handled += asyncio.run(consume(db, config, asyncio.Event(), idle_exit=True))
        if handled:
            break
    return handled


def _outcomes(db: Database) -> dict[str, str]:
    with db.reading() as session:
        return dict(session.execute(select(ProcessedMessage.message_id, ProcessedMessage.outcome)).all())  # type: ignore[arg-type]


def test_a_shipment_confirmed_message_ships_once(
    seeded_client: TestClient, seeded: Database, inbound: ConsumerConfig
) -> None:
    reserve = {
        "orderId": "OMS-SH",
        "orderItemSeqId": "00001",
        "productId": "FG002",
        "facilityId": "FACILITY_1",
    }
    assert seeded_client.post("/v1/reservations", json=reserve | {"quantity": 3}).status_code == 201
    shipment = {
        "shipmentId": "OMS-SHIP-1",
        "primaryOrderId": "OMS-SH",
        "originFacilityId": "FACILITY_1",
        "items": [
            {"shipmentItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG002", "quantity": 3}
        ],
    }
    assert seeded_client.post("/v1/shipments", json=shipment).status_code == 201
    assert product_totals(seeded, "FG002") == (31, 28)

    assert _deliver(seeded, inbound, "ShipmentConfirmed", "oms-ship-1", {"shipmentId": "OMS-SHIP-1"}) == 1
    assert product_totals(seeded, "FG002") == (28, 28)  # QOH − 3; ATP was taken by the reservation
    with seeded.reading() as session:
        stored = session.get(Shipment, ("FACILITY_1", "OMS-SHIP-1"))
        assert stored is not None
        assert stored.status_id == "SHIPMENT_SHIPPED"
        issued = session.scalars(select(ItemIssuance).where(ItemIssuance.shipment_id == "OMS-SHIP-1")).all()
    assert sum(i.quantity for i in issued) == 3
    assert [e["shipmentId"] for e in events(seeded, "ShipmentConfirmed")] == ["OMS-SHIP-1"]
    assert _outcomes(seeded) == {"oms-ship-1": "applied"}

    time.sleep(WINDOW + 0.5)  # past the window: JetStream stores the re-send as a new message
    before = snapshot(seeded)
    assert _deliver(seeded, inbound, "ShipmentConfirmed", "oms-ship-1", {"shipmentId": "OMS-SHIP-1"}) == 1
    assert snapshot(seeded) == before  # the redelivery applied nothing, wrote no event
    assert _outcomes(seeded) == {"oms-ship-1": "applied"}


def test_a_return_received_message_processes_the_return_once(
    seeded: Database, inbound: ConsumerConfig
) -> None:
    sale = {"orderId": "POS-9", "facilityId": "FACILITY_1", "items": [{**SOLD_LINE, "quantity": 4}]}
    with seeded.transaction() as session:  # only what shipped can come back
        record_pos_sale(session, PosSaleIn.model_validate(sale))
    body = {
        "returnId": "OMS-RET-1",
        "orderId": "POS-9",
        "facilityId": "FACILITY_1",
        "items": [
            {
                "returnItemSeqId": "1",
                **SOLD_LINE,
                "returnQuantity": 4,
                "returnReasonId": "RTN_DEFECTIVE_ITEM",
                "receivedCondition": "OPENED",
            }
        ],
    }
    before_totals = product_totals(seeded, "FG001")
    assert _deliver(seeded, inbound, "ReturnReceived", "oms-ret-1", body) == 1
    assert product_totals(seeded, "FG001") == (before_totals[0] + 4, before_totals[1])  # QOH only
    with seeded.reading() as session:
        [item] = session.scalars(select(ReturnItem).where(ReturnItem.return_id == "OMS-RET-1")).all()
    assert item.return_quantity == 4
    [event] = events(seeded, "ReturnReceived")
    assert event["returnId"] == "OMS-RET-1"
    assert _outcomes(seeded) == {"oms-ret-1": "applied"}

    time.sleep(WINDOW + 0.5)
    before = snapshot(seeded)
    assert _deliver(seeded, inbound, "ReturnReceived", "oms-ret-1", body) == 1
    assert snapshot(seeded) == before
    assert _outcomes(seeded) == {"oms-ret-1": "applied"}
    # a different message id for the same return is refused (the return exists), not applied twice
    assert _deliver(seeded, inbound, "ReturnReceived", "oms-ret-2", body) == 1
    assert snapshot(seeded) == before
    assert _outcomes(seeded) == {"oms-ret-1": "applied", "oms-ret-2": "refused"}


def _fail_once(db: Database, config: ConsumerConfig, msg_id: str) -> None:
    """Deliver a message while the database cannot record it (its table renamed away: a real
    failure), so the consumer naks it with its retry delay; then put the table back."""
    with db.transaction() as session:
        session.execute(text("ALTER TABLE processed_message RENAME TO processed_message_away"))
    try:
        assert _deliver(db, config, "ShipmentConfirmed", msg_id, {"shipmentId": "NO-SUCH"}) == 1
    finally:
        with db.transaction() as session:
            session.execute(text("ALTER TABLE processed_message_away RENAME TO processed_message"))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_message_not_applied_comes_back_after_the_retry_setting(
    seeded: Database, inbound: ConsumerConfig
) -> None:
    """STOCKLEDGER_CONSUME_RETRY_SECONDS (ConsumerConfig.retry_seconds): the nak's delay."""
    quick = replace(inbound, fetch_timeout=0.1)
    _fail_once(seeded, replace(quick, retry_seconds=30), "oms-late")
    assert asyncio.run(consume(seeded, quick, asyncio.Event(), idle_exit=True)) == 0  # not back yet
    _fail_once(seeded, replace(quick, retry_seconds=0.3), "oms-soon")
    time.sleep(0.6)
    handled = asyncio.run(consume(seeded, inbound, asyncio.Event(), idle_exit=True))
    assert handled == 1
    assert _outcomes(seeded) == {"oms-soon": "refused"}
