"""A message of ours that is not the outbox's event (forged, a restored or a cloned database), on
the real NATS JetStream server: the publisher stops at it instead of losing an event, `events
status` says DIVERGED, and `events new-deployment-id` is the way out. A re-send after a lost ack
(the same body) is still accepted.

Each test makes its own stream (the `names` fixture of test_events_nats) and deletes it.
"""

import asyncio
import json
import sqlite3
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from stockledger.cli import app as cli_app
from stockledger.core.db import Database
from stockledger.events.deployment import outbox_last
from stockledger.events.models import PublisherPosition
from stockledger.events.outbox import record_event
from stockledger.events.publisher import PublisherConfig, StreamDiverged, deployment_of, publish_pending
from stockledger.events.rules import message_id
from tests.e2e.test_events_nats import (
    NATS_URL,
    _position,
    _publish_foreign,
    _reserve,
    _status,
    _stream_messages,
    names,
)
from tests.e2e.test_events_status_gaps_nats import _delete_ours

__all__ = ["names"]  # the fixture, imported for pytest


async def _forge(stream: str, subject: str, msg_id_header: str) -> None:
    nc = await nats.connect(NATS_URL)
    ack = await nc.jetstream().publish(
        subject, b'{"forged": true}', stream=stream, headers={"Nats-Msg-Id": msg_id_header}
    )
    assert not ack.duplicate
    await nc.close()


def _cli(db_url: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli_app, args)
    return result.exit_code, result.output


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _ours(stream: str, deployment: str) -> list[tuple[str, dict[str, object]]]:
    """(Nats-Msg-Id, body) of each message of `deployment` on the stream, in stream order."""
    return [
        (h["Nats-Msg-Id"], b)
        for _, h, b in asyncio.run(_stream_messages(stream))
        if h.get("Nats-Msg-Id", "").startswith(f"{deployment}:")
    ]


def test_a_forged_future_id_stops_the_publisher_and_the_new_id_publishes_the_real_events(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-FORGED-0")
    asyncio.run(publish_pending(seeded, config))
    last, old_id = outbox_last(seeded), deployment_of(seeded)
    # NATS trims the header's leading space: this is our id for the event after next.
    asyncio.run(_forge(stream, f"{prefix}.FACILITY_1.StockReserved", f" {old_id}:{last + 2}"))
    for n in (1, 2, 3):
        _reserve(seeded_client, f"ORDER-FORGED-{n}")
    assert outbox_last(seeded) == last + 3

    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert (
        f"DIVERGED: the stream's eventSeq {last + 2} of this deployment is not the outbox's event" in output
    )
    with pytest.raises(StreamDiverged) as stopped:
        asyncio.run(publish_pending(seeded, config))
    assert stopped.value.event_seq == last + 2
    assert _position(seeded, stream) == last  # nothing published past (or under) the forged number

    code, output = _cli(_url(seeded), ["events", "new-deployment-id"], monkeypatch)
    assert code == 0, output
    new_id = deployment_of(seeded)
    assert new_id != old_id
    assert f"deployment id: {old_id} -> {new_id}" in output
    assert asyncio.run(publish_pending(seeded, config)) == 3
    feed = seeded_client.get("/v1/events", params={"after": last}).json()["items"]
    assert _ours(stream, new_id) == [(message_id(new_id, e["eventSeq"]), e) for e in feed]
    assert [e["payload"]["orderId"] for e in feed] == ["ORDER-FORGED-1", "ORDER-FORGED-2", "ORDER-FORGED-3"]
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output
    assert f"this deployment's last: eventSeq {last + 3}" in output
    assert "gap: 0 outbox events" in output


def test_a_duplicate_ack_of_another_body_stops_the_publisher_at_that_event(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-DUP-0")
    asyncio.run(publish_pending(seeded, config))
    last, ours = outbox_last(seeded), deployment_of(seeded)
    asyncio.run(_forge(stream, f"{prefix}.FACILITY_1.StockReserved", message_id(ours, last + 2)))
    # 200 messages of another sender after it: the publisher's look-back on connect does not see
    # it, so only JetStream's duplicate ack tells that event last+2 was dropped.
    asyncio.run(_publish_foreign(stream, f"{prefix}.ELSEWHERE.X", [f"other:{n}" for n in range(200)]))
    _reserve(seeded_client, "ORDER-DUP-1")
    _reserve(seeded_client, "ORDER-DUP-2")
    assert outbox_last(seeded) == last + 2

    code, output = _cli(
        _url(seeded),
        [
            "events",
            "publish",
            "--once",
            "--stream",
            stream,
            "--subject-prefix",
            prefix,
            "--nats-url",
            NATS_URL,
        ],
        monkeypatch,
    )
    assert code == 1, output
    assert f"published 1 events to {stream}" in output
    assert f"already holds eventSeq {last + 2} of this deployment" in output
    assert "stockledger events new-deployment-id" in output
    assert _position(seeded, stream) == last + 1  # not past the event JetStream dropped
    with pytest.raises(StreamDiverged) as again:  # and it stays stopped there
        asyncio.run(publish_pending(seeded, config))
    assert (again.value.event_seq, again.value.published) == (last + 2, 0)
    assert [i for i, _ in _ours(stream, ours)][-2:] == [
        message_id(ours, last + 2),
        message_id(ours, last + 1),
    ]


def test_a_resend_after_a_lost_ack_is_accepted_as_published(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str]
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-RESEND-1")
    first = asyncio.run(publish_pending(seeded, config))
    before = asyncio.run(_stream_messages(stream))
    # The acks were lost (position not saved), and the look-back on connect does not reach our
    # messages: every event is sent again, inside JetStream's duplicate window.
    asyncio.run(_publish_foreign(stream, f"{prefix}.ELSEWHERE.X", [f"other:{n}" for n in range(200)]))
    with seeded.transaction() as session:
        session.execute(update(PublisherPosition).values(last_event_seq=0))
    assert asyncio.run(publish_pending(seeded, config)) == first  # duplicates of the same bodies: fine
    assert _position(seeded, stream) == outbox_last(seeded)
    assert len(asyncio.run(_stream_messages(stream))) == len(before) + 200  # JetStream stored none again


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_cloned_database_publishes_its_events_under_a_new_deployment_id(
    seeded_client: TestClient,
    seeded: Database,
    names: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-ORIGINAL-0")
    asyncio.run(publish_pending(seeded, config))
    last = outbox_last(seeded)
    # A staging copy: the whole database, its deployment id and publisher position included.
    original_path = seeded.engine.url.database
    assert original_path is not None
    clone_path = tmp_path / "clone.db"
    with sqlite3.connect(original_path) as source, sqlite3.connect(clone_path) as target:
        source.backup(target)
    clone = Database(f"sqlite:///{clone_path}")
    try:
        assert deployment_of(clone) == deployment_of(seeded)
        _reserve(seeded_client, "ORDER-ORIGINAL-1")
        assert asyncio.run(publish_pending(seeded, config)) == 1
        with clone.transaction() as session:  # the clone's own event, under the same number
            record_event(session, "FACILITY_1", "InventoryChanged", {"note": "staging"})
        assert outbox_last(clone) == last + 1

        with pytest.raises(StreamDiverged) as stopped:  # its event would be dropped as a duplicate
            asyncio.run(publish_pending(clone, config))
        assert stopped.value.event_seq == last + 1
        code, output = _cli(f"sqlite:///{clone_path}", ["events", "new-deployment-id"], monkeypatch)
        assert code == 0, output
        assert asyncio.run(publish_pending(clone, config)) == 1
        clone_id = deployment_of(clone)
        assert clone_id != deployment_of(seeded)
        assert [(i, b["payload"]) for i, b in _ours(stream, clone_id)] == [
            (message_id(clone_id, last + 1), {"note": "staging"})
        ]
        code, output = _status(clone, stream, monkeypatch)
        assert code == 0, output
        assert "gap: 0 outbox events" in output
    finally:
        clone.dispose()
    assert json.dumps(_ours(stream, deployment_of(seeded))[-1][1]).count("ORDER-ORIGINAL-1") == 1


def test_a_forged_id_deleted_before_our_event_is_published_stops_the_publisher_and_says_so(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """JetStream still acks our event as a duplicate of the deleted message: publish stopped with a
    raw `NotFoundError … no message found` (as a lost connection); now it says what happened."""
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-GONE-0")
    asyncio.run(publish_pending(seeded, config))
    last, ours = outbox_last(seeded), deployment_of(seeded)
    asyncio.run(_forge(stream, f"{prefix}.FACILITY_1.StockReserved", message_id(ours, last + 1)))
    asyncio.run(_delete_ours(stream, message_id(ours, last + 1)))
    _reserve(seeded_client, "ORDER-GONE-1")
    assert outbox_last(seeded) > last

    args = [
        "events",
        "publish",
        "--once",
        "--stream",
        stream,
        "--subject-prefix",
        prefix,
        "--nats-url",
        NATS_URL,
    ]
    code, output = _cli(_url(seeded), args, monkeypatch)
    assert code == 1, output
    assert f"published 0 events to {stream}" in output
    assert f"held a message under the id of eventSeq {last + 1} of this deployment" in output
    assert "deleted since" in output
    assert "run `stockledger events new-deployment-id`, then publish again" in output
    assert "NotFoundError" not in output
    assert "no message found" not in output
    assert _position(seeded, stream) == last

    assert _cli(_url(seeded), ["events", "new-deployment-id"], monkeypatch)[0] == 0
    assert _cli(_url(seeded), args, monkeypatch)[0] == 0  # under the new id: published
    assert _position(seeded, stream) == outbox_last(seeded)
