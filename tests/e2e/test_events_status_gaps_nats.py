"""`stockledger events status` on the real NATS JetStream server sees holes below this
deployment's last message, not only the gap after it: a stream deleted (and created again by the
next publish), one message deleted; and a stream flooded by other senders past what it reads is
an unknown state. Each is exit 1; a stream that holds every event of ours is exit 0.

Each test makes its own stream (the `names` fixture of test_events_nats) and deletes it.
"""

import asyncio

import nats
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stockledger.cli import app as cli_app
from stockledger.core.db import Database
from stockledger.events.deployment import outbox_between, outbox_last
from stockledger.events.publisher import PublisherConfig, deployment_of, publish_pending
from tests.e2e.test_events_nats import NATS_URL, _publish_foreign, _reserve, _status, names

__all__ = ["names"]  # the fixture, imported for pytest


async def _delete_stream(stream: str) -> None:
    nc = await nats.connect(NATS_URL)
    await nc.jetstream().delete_stream(stream)
    await nc.close()


async def _delete_ours(stream: str, msg_id: str) -> None:
    """Delete the message with this Nats-Msg-Id (an operator's `nats stream rmm`)."""
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    state = (await js.stream_info(stream)).state
    for seq in range(state.first_seq, state.last_seq + 1):
        if (await js.get_msg(stream, seq)).headers.get("Nats-Msg-Id") == msg_id:  # type: ignore[union-attr]
            assert await js.delete_msg(stream, seq)
            break
    else:
        raise AssertionError(f"{msg_id} is not on {stream}")
    await nc.close()


def _published(client: TestClient, db: Database, config: PublisherConfig, orders: list[str]) -> int:
    for order in orders:
        _reserve(client, order)
    asyncio.run(publish_pending(db, config))
    return outbox_last(db)


def test_every_event_on_the_stream_is_exit_0(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    last = _published(seeded_client, seeded, PublisherConfig(NATS_URL, stream, prefix), ["OK-1", "OK-2"])
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output
    assert f"this deployment's last: eventSeq {last}" in output
    assert "gap: 0 outbox events" in output
    assert "HOLES" not in output


def test_a_stream_deleted_and_created_again_is_a_hole(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    before = _published(seeded_client, seeded, config, ["GONE-1", "GONE-2"])
    asyncio.run(_delete_stream(stream))
    last = _published(seeded_client, seeded, config, ["AFTER-1"])  # the publisher creates it again
    assert last == before + 1
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert f"this deployment's last: eventSeq {last}" in output
    assert "gap: 0 outbox events" in output
    lost = len(outbox_between(seeded, 1, before))  # every event published before the deletion
    assert lost > 1
    assert f"HOLES: {lost} outbox events up to eventSeq {last} are not on stream {stream}" in output, output


def test_one_deleted_message_is_a_hole(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    last = _published(
        seeded_client, seeded, PublisherConfig(NATS_URL, stream, prefix), ["DEL-1", "DEL-2", "DEL-3"]
    )
    asyncio.run(_delete_ours(stream, f"{deployment_of(seeded)}:{last - 1}"))
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert f"HOLES: 1 outbox events up to eventSeq {last} are not on stream {stream} ({last - 1})" in output


def test_a_flooded_stream_is_read_through_and_past_the_limit_is_unknown(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, prefix = names
    last = _published(seeded_client, seeded, PublisherConfig(NATS_URL, stream, prefix), ["FLOOD-1"])
    asyncio.run(_publish_foreign(stream, f"{prefix}.ELSEWHERE.X", [f"other:{n}" for n in range(250)]))
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output  # 250 others are read through (the last 10,000 messages by default)
    assert f"this deployment's last: eventSeq {last}" in output
    assert "gap: 0 outbox events" in output

    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", seeded.engine.url.render_as_string(hide_password=False))
    args = ["events", "status", "--stream", stream, "--nats-url", NATS_URL, "--scan-limit", "100"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 1, result.output
    assert "none of this deployment's in the last 100: gap unknown" in result.output


def test_our_last_message_deleted_is_a_hole_not_backlog(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publisher's position is past it, so `publish` never resends it: it was `gap: 1`, exit 0."""
    stream, prefix = names
    last = _published(seeded_client, seeded, PublisherConfig(NATS_URL, stream, prefix), ["TAIL-1", "TAIL-2"])
    asyncio.run(_delete_ours(stream, f"{deployment_of(seeded)}:{last}"))
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert f"gap: 0 outbox events after eventSeq {last} are not on the stream" in output
    assert f"HOLES: 1 outbox events up to eventSeq {last} are not on stream {stream} ({last})" in output


def test_a_deleted_stream_is_a_hole_before_and_after_publish_creates_it_again(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both were exit 0: `does not exist (nothing published yet)`, then `gap: <position>`."""
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    last = _published(seeded_client, seeded, config, ["WIPED-1", "WIPED-2"])
    lost = len(outbox_between(seeded, 1, last))
    asyncio.run(_delete_stream(stream))
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert "nothing published yet" not in output
    assert f"stream {stream}: does not exist, but events up to {last} were published to it" in output
    assert f"HOLES: {lost} outbox events up to eventSeq {last} are not on stream {stream}" in output

    assert (
        asyncio.run(publish_pending(seeded, config)) == 0
    )  # creates it again, empty: nothing after the position
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 1, output
    assert f"gap: 0 outbox events after eventSeq {last} are not on the stream" in output
    assert f"HOLES: {lost} outbox events up to eventSeq {last} are not on stream {stream}" in output


def test_nothing_published_and_no_stream_is_exit_0(
    seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, _ = names
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output
    assert f"stream {stream}: does not exist (nothing published yet)" in output
