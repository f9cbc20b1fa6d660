"""The commands no other test runs on the citus backend: `serve` (its async pool sends the
one-statement reservation in autocommit), `token list`, `token revoke`, `events status`,
`idempotency purge`. (`migrate`, `demo`, `verify`, `load`, `reset` and `token create` run on
every backend in test_citus_move.py, test_cli.py, test_resets_cli.py and test_tokens.py.)"""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from stockledger.cli import app
from stockledger.core.db import Database

pytestmark = pytest.mark.parametrize("backend", ["citus"], indirect=True)
runner = CliRunner()


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_tokens_events_status_and_purge(env: str, seeded: Database) -> None:
    token = _invoke("token", "create", "--role", "store", "--facility", "FACILITY_1").strip().splitlines()[-1]
    token_id = token.split("_")[1]  # sl_<id>_<secret>
    assert token_id in _invoke("token", "list")
    assert f"token {token_id} revoked" in _invoke("token", "revoke", token_id)
    assert "published up to eventSeq 0" in _invoke("events", "status")
    assert "purged 0 expired idempotency keys" in _invoke("idempotency", "purge")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "serve exited early"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("serve never became healthy")


def test_serve_reserves_on_the_cluster(env: str, seeded: Database) -> None:
    token = _invoke("token", "create", "--role", "admin").strip().splitlines()[-1]
    port = _free_port()
    cli = [sys.executable, "-m", "stockledger.cli", "serve", "--port", str(port), "--no-publish"]
    server = subprocess.Popen(cli, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, server)
        line = {"orderId": "SERVE-1", "orderItemSeqId": "00001", "productId": "FG002"}
        answer = httpx.post(
            f"{base}/v1/reservations",
            json={**line, "facilityId": "FACILITY_1", "quantity": 2},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    stderr = server.stderr.read().decode() if server.stderr else ""
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert (code, "Application shutdown complete" in stderr) == (-signal.SIGTERM, True), stderr
