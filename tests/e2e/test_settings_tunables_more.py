"""The tunables added to the settings take effect where they are used: the token cache's size,
the SQLite busy timeout and Retry-After, the Idempotency-Key lifetime and wait, the statement
caches' size, the NATS connect timeout and the consumer's fetch wait."""

import asyncio
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from stockledger.app import create_app
from stockledger.auth import service
from stockledger.cli import app as cli_app
from stockledger.core.config import Settings, get_settings
from stockledger.core.db import Database
from stockledger.events.publisher import PublisherConfig
from stockledger.idempotency.models import IdempotencyKey
from tests.conftest import POSTGRES_LIKE
from tests.e2e.test_events_inbound_nats import NATS_URL, _delete_stream
from tests.e2e.test_idempotency_api import _wait_for_lock_waiters

AVAILABILITY = "/v1/availability?facilityId=FACILITY_1&productId=FG001"
VARIANCE = {"inventoryItemId": "FG001-INV-001", "quantity": 1, "varianceReasonId": "VAR_FOUND"}


def _client(db_url: str, token: str | None = None) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with TestClient(create_app(db_url), raise_server_exceptions=False, headers=headers) as client:
        yield client


def _token(db: Database) -> tuple[str, str]:
    with db.transaction() as session:
        issued = service.create_token(session, "admin")
    return issued.token, issued.token_id


def test_a_token_cache_of_one_entry_forgets_a_token_when_another_is_read(
    seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache lifetime of an hour, but room for one principal: reading token B forgets token A,
    so A's revocation is seen at once (with the default 10,000 entries A would still be trusted)."""
    monkeypatch.setenv("STOCKLEDGER_TOKEN_CACHE_SECONDS", "3600")
    monkeypatch.setenv("STOCKLEDGER_TOKEN_CACHE_ENTRIES", "1")
    (first, first_id), (second, _) = _token(seeded), _token(seeded)
    for client in _client(db_url):
        assert client.app.state.auth_cache.max_entries == 1  # type: ignore[attr-defined]
        assert client.get(AVAILABILITY, headers={"Authorization": f"Bearer {first}"}).status_code == 200
        with seeded.transaction() as session:
            service.revoke_token(session, first_id)
        assert client.get(AVAILABILITY, headers={"Authorization": f"Bearer {second}"}).status_code == 200
        assert client.get(AVAILABILITY, headers={"Authorization": f"Bearer {first}"}).status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_locked_sqlite_file_is_a_503_after_the_busy_timeout_with_the_retry_after_set(
    seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock: a write waits STOCKLEDGER_SQLITE_BUSY_TIMEOUT_SECONDS
    (not the default 30 s), then answers 503 with STOCKLEDGER_RETRY_AFTER_SECONDS, with or
    without an Idempotency-Key (the middleware's 503 and the handlers' say the same)."""
    monkeypatch.setenv("STOCKLEDGER_SQLITE_BUSY_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("STOCKLEDGER_RETRY_AFTER_SECONDS", "7")
    token, _ = _token(seeded)
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        for client in _client(db_url, token):
            holder.execute("BEGIN IMMEDIATE")
            for headers in ({}, {"Idempotency-Key": "busy-1"}):
                started = time.monotonic()
                answer = client.post("/v1/variances", json=VARIANCE, headers=headers)
                assert time.monotonic() - started < 10
                assert answer.status_code == 503, answer.text
                assert answer.json()["code"] == "database_unavailable"
                assert answer.headers["retry-after"] == "7"
            holder.execute("ROLLBACK")
            assert client.post("/v1/variances", json=VARIANCE).status_code == 200
    finally:
        holder.close()


def test_the_idempotency_key_lifetime_is_the_setting(
    seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_IDEMPOTENCY_KEY_HOURS", "0.5")
    token, _ = _token(seeded)
    for client in _client(db_url, token):
        answer = client.post("/v1/variances", json=VARIANCE, headers={"Idempotency-Key": "half-hour"})
        assert answer.status_code == 200, answer.text
    with seeded.reading() as session:
        row = session.scalars(select(IdempotencyKey)).one()
        assert row.expires_at - row.created_stamp == timedelta(minutes=30)


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_a_duplicate_waits_the_idempotency_wait_then_gets_a_409(
    seeded: Database, db_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request with the key claims it and then waits on a locked item; the second,
    same key, waits STOCKLEDGER_IDEMPOTENCY_WAIT_SECONDS (not the default 10 s) for the claim,
    then is told the key is in use."""
    monkeypatch.setenv("STOCKLEDGER_IDEMPOTENCY_WAIT_SECONDS", "0.3")
    token, _ = _token(seeded)
    keyed = {"Idempotency-Key": "waited"}
    blocker = seeded.engine.connect()
    blocker.begin()
    blocker.execute(
        text(
            "SELECT 1 FROM inventory_item "
            "WHERE facility_id = 'FACILITY_1' AND inventory_item_id = 'FG001-INV-001' FOR UPDATE"
        )
    )
    first: list[Any] = []
    for client in _client(db_url, token):

        def send(client: TestClient = client) -> None:
            first.append(client.post("/v1/variances", json=VARIANCE, headers=keyed))

        thread = threading.Thread(target=send, daemon=True)
        try:
            thread.start()
            assert _wait_for_lock_waiters(blocker, 1, backend) >= 1
            started = time.monotonic()
            second = client.post("/v1/variances", json=VARIANCE, headers=keyed)
            waited = time.monotonic() - started
        finally:
            blocker.rollback()
            blocker.close()
            thread.join(30)
        assert second.status_code == 409, second.text
        assert second.json()["code"] == "idempotency_in_progress"
        assert 0.3 <= waited < 5
        assert first[0].status_code == 200, first[0].text


@pytest.mark.parametrize(
    ("variable", "show", "default"),
    [
        (
            "STOCKLEDGER_STATEMENT_CACHE_SIZE",
            "from stockledger.core.statements import lean_select; "
            "print(lean_select.cache_parameters()['maxsize'])",
            "512",
        ),
        (  # the upsert builder's cache too, sized by the same setting
            "STOCKLEDGER_STATEMENT_CACHE_SIZE",
            "from stockledger.core.dialects import _upsert_updating; "
            "print(_upsert_updating.cache_parameters()['maxsize'])",
            "512",
        ),
        (  # ANALYZE after bulk work: tests/integration/test_bulk_statistics.py
            "STOCKLEDGER_ANALYZE_GROWN_ROWS",
            "from stockledger.core.dialects import GROWN_ROWS; print(GROWN_ROWS)",
            "1000",
        ),
        (
            "STOCKLEDGER_RESERVATION_EVENT_LINES",
            "from stockledger.reservations.service import EVENT_LINES; print(EVENT_LINES)",
            "1000",
        ),
        (  # a load a batch of 2 at a time: tests/integration/test_product_import_batches.py
            "STOCKLEDGER_IMPORT_BATCH_SIZE",
            "from stockledger.catalog.import_products import BATCH; print(BATCH)",
            "5000",
        ),
    ],
)
def test_what_is_sized_at_import_takes_the_setting(variable: str, show: str, default: str) -> None:
    """Sized as its module is imported: a process started with the variable has that size; an
    unusable value leaves the default there (the commands refuse it, in one line)."""
    for value, size in (("37", "37"), ("0", default)):
        done = subprocess.run(
            [sys.executable, "-c", show],
            env={variable: value, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == size, done.stderr


def test_every_setting_is_described_and_documented() -> None:
    """Each field of Settings has a description and a row in docs/operations.md's table."""
    table = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"| `STOCKLEDGER_{name.upper()}` | " in table, name


def test_the_publisher_of_serve_and_events_publish_takes_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOCKLEDGER_PUBLISH_POLL_SECONDS", "0.05")
    monkeypatch.setenv("STOCKLEDGER_NATS_CONNECT_SECONDS", "0.7")
    monkeypatch.setenv("STOCKLEDGER_PUBLISH_BATCH_SIZE", "9")
    monkeypatch.setenv("STOCKLEDGER_PUBLISH_BACKOFF_MAX_SECONDS", "3")
    config = PublisherConfig.of(get_settings(), "nats://x", "S", "s")
    assert (config.poll_seconds, config.connect_timeout, config.batch_size) == (0.05, 0.7, 9)
    assert config.backoff_max_seconds == 3
    assert PublisherConfig("nats://x").poll_seconds == 0.5  # the default, declared on the setting


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never says a word (NATS sends INFO first)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"nats://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_nats_connect_timeout_bounds_the_wait_for_a_silent_server(
    db: Database, db_url: str, silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    monkeypatch.setenv("STOCKLEDGER_NATS_CONNECT_SECONDS", "0.2")
    for command in (["events", "consume", "--until-idle"], ["events", "publish", "--once"]):
        started = time.monotonic()
        result = CliRunner().invoke(cli_app, [*command, "--nats-url", silent_server])
        assert result.exit_code == 1, result.output
        assert "unreachable" in result.output
        assert time.monotonic() - started < 1.9  # the default, 2 s, tried twice would take 4


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_consumer_waits_the_fetch_setting_for_messages(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`events consume --until-idle` on an empty stream exits after one empty pull: it lasts the
    pull's wait, STOCKLEDGER_CONSUME_FETCH_SECONDS (real NATS at 127.0.0.1:4222)."""
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    tag = uuid.uuid4().hex[:10]
    stream = f"SLFETCH_{tag}"
    command = ["events", "consume", "--until-idle", "--stream", stream, "--subject-prefix", f"f{tag}"]
    lasted: dict[str, float] = {}
    try:
        for fetch in ("0.1", "1.6"):
            monkeypatch.setenv("STOCKLEDGER_CONSUME_FETCH_SECONDS", fetch)
            started = time.monotonic()
            result = CliRunner().invoke(cli_app, [*command, "--nats-url", NATS_URL])
            lasted[fetch] = time.monotonic() - started
            assert result.exit_code == 0, result.output
            assert "handled 0 messages" in result.output
    finally:
        asyncio.run(_delete_stream(stream))
    assert lasted["1.6"] - lasted["0.1"] >= 1.2, lasted


def test_the_sign_in_cookie_and_form_token_last_as_the_settings_say(
    seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_SIGN_IN_HOURS", "0.5")
    monkeypatch.setenv("STOCKLEDGER_FORM_TOKEN_SECONDS", "120")
    token, _ = _token(seeded)
    for client in _client(db_url):
        page = client.get("/ui/login")
        assert page.status_code == 200
        assert "Max-Age=120" in page.headers["set-cookie"]
        form = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert form is not None
        signed = client.post(
            "/ui/login", data={"token": token, "csrf_token": form.group(1)}, follow_redirects=False
        )
        assert signed.status_code == 303
        assert "Max-Age=1800" in signed.headers["set-cookie"]
