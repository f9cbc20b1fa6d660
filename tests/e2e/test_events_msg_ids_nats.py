"""Message ids on the real NATS JetStream: only `<deployment>:<n>` exactly (n >= 1, no leading
zeros, ASCII digits) is this deployment's; anything else is another sender's message and neither
stops the publisher nor counts in `events status`.

Each test makes its own stream (the `names` fixture of test_events_nats) and deletes it.
"""

import asyncio

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.events.deployment import outbox_last
from stockledger.events.publisher import PublisherConfig, deployment_of, publish_pending
from tests.e2e.test_events_diverged_nats import _forge
from tests.e2e.test_events_nats import NATS_URL, _position, _reserve, _status, names

__all__ = ["names"]  # the fixture, imported for pytest


def test_an_id_with_leading_zeros_is_not_ours_and_does_not_stop_the_publisher(
    seeded_client: TestClient, seeded: Database, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only `<deployment>:<n>` in its canonical form (no leading zeros, n >= 1) is one of ours:
    `<deployment>:00NN` is someone else's message, not a forged eventSeq NN."""
    stream, prefix = names
    config = PublisherConfig(NATS_URL, stream, prefix)
    _reserve(seeded_client, "ORDER-ZEROS-0")
    asyncio.run(publish_pending(seeded, config))
    last, ours = outbox_last(seeded), deployment_of(seeded)
    for foreign in (f"{ours}:00{last + 1}", f"{ours}:0", f"{ours}:+{last + 1}", f"{ours}:{last + 1}\u00b2"):
        asyncio.run(_forge(stream, f"{prefix}.FACILITY_1.StockReserved", foreign))
    _reserve(seeded_client, "ORDER-ZEROS-1")
    assert asyncio.run(publish_pending(seeded, config)) == 1
    assert _position(seeded, stream) == last + 1
    code, output = _status(seeded, stream, monkeypatch)
    assert code == 0, output
    assert f"this deployment's last: eventSeq {last + 1}" in output
