"""The tunables are settings: each STOCKLEDGER_ environment variable takes effect where it is used."""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.app import create_app
from stockledger.auth import service
from stockledger.cli import _publisher
from stockledger.core.cli_database import open_database
from stockledger.core.config import get_settings
from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent

AVAILABILITY = "/v1/availability?facilityId=FACILITY_1&productId=FG001"


def _client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url), raise_server_exceptions=False) as client:
        yield client


def _revoked_token_answers(db: Database, client: TestClient) -> int:
    """Status of a request with a token revoked after its first (cached) use."""
    with db.transaction() as session:
        issued = service.create_token(session, "admin")
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get(AVAILABILITY, headers=headers).status_code == 200
    with db.transaction() as session:
        service.revoke_token(session, issued.token_id)
    return client.get(AVAILABILITY, headers=headers).status_code


def test_a_token_cache_lifetime_of_zero_makes_revocation_immediate(
    seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_TOKEN_CACHE_SECONDS", "0")
    for client in _client(db_url):
        assert _revoked_token_answers(seeded, client) == 401


def test_a_long_token_cache_lifetime_keeps_a_revoked_token_working_meanwhile(
    seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_TOKEN_CACHE_SECONDS", "3600")
    for client in _client(db_url):
        assert _revoked_token_answers(seeded, client) == 200


def _inventory_changed(db: Database) -> int:
    """InventoryChanged events, the parts of one (≤ 64 KB each, `partOf` naming their series)
    counted once: a batch's change is one event however its payload is cut."""
    with db.reading() as session:
        query = select(OutboxEvent.payload).where(OutboxEvent.event_type == "InventoryChanged")
        payloads = [json.loads(payload) for payload in session.scalars(query)]
    series = {p["partOf"] for p in payloads if "partOf" in p}
    return len(series) + sum("partOf" not in p for p in payloads)


@pytest.mark.parametrize(("batch_size", "events"), [("100", 3), (None, 1)])
def test_the_reset_batch_size_sets_the_events_per_reset(
    seeded: Database,
    db_url: str,
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: str | None,
    events: int,
) -> None:
    """One InventoryChanged per facility per batch: 250 changing lines are 3 batches of 100, or one
    of the default 5,000."""
    if batch_size is not None:
        monkeypatch.setenv("STOCKLEDGER_RESET_BATCH_SIZE", batch_size)
    lines = [
        {"facilityId": "FACILITY_1", "productId": "FG003", "quantityOnHand": 10 + n % 2} for n in range(250)
    ]
    before = _inventory_changed(seeded)
    for client in _client(db_url):
        answer = client.post(
            "/v1/external-inventory-resets",
            content=json.dumps({"lines": lines}),
            headers={"Authorization": f"Bearer {admin_token}", "content-type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["linesChanged"] == 250
    assert _inventory_changed(seeded) - before == events


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_async_wait_and_idle_ping_reach_the_app_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_ASYNC_WAIT_SECONDS", "0.25")
    monkeypatch.setenv("STOCKLEDGER_IDLE_PING_SECONDS", "30")
    monkeypatch.setenv("STOCKLEDGER_DB_POOL_SIZE", "3")
    for client in _client(db_url):
        db = client.app.state.db  # type: ignore[attr-defined]
        assert db.async_pool is not None
        assert (db.async_pool.timeout, db.async_pool.max_size) == (0.25, 3)
        assert (db.idle_ping, db.engine.pool.size()) == (30.0, 3)


def test_the_command_line_database_and_publisher_take_the_settings(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    monkeypatch.setenv("STOCKLEDGER_IDLE_PING_SECONDS", "12")
    monkeypatch.setenv("STOCKLEDGER_ASYNC_WAIT_SECONDS", "2")
    monkeypatch.setenv("STOCKLEDGER_PUBLISH_BATCH_SIZE", "77")
    opened = open_database()
    try:
        assert (opened.idle_ping, opened.async_wait) == (12.0, 2.0)
    finally:
        opened.dispose()
    publisher = _publisher(True, get_settings().model_copy(update={"nats_url": "nats://x"}), "S", "s")
    assert publisher is not None
    assert publisher.config.batch_size == 77


def test_an_unusable_tunable_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from stockledger.core.config import settings_problem

    monkeypatch.setenv("STOCKLEDGER_RESET_BATCH_SIZE", "5")
    with pytest.raises(ValidationError) as refused:
        get_settings()
    assert settings_problem(refused.value) == (
        "STOCKLEDGER_RESET_BATCH_SIZE Input should be greater than or equal to 100"
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_a_tunable_that_is_no_finite_number_says_so(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from pydantic import ValidationError

    from stockledger.core.config import settings_problem

    monkeypatch.setenv("STOCKLEDGER_IDLE_PING_SECONDS", value)
    with pytest.raises(ValidationError) as refused:
        get_settings()
    assert settings_problem(refused.value) == "STOCKLEDGER_IDLE_PING_SECONDS Input should be a finite number"
