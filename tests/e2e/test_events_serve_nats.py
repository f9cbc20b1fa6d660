"""`stockledger serve --publish`: the server publishes its outbox to the real NATS JetStream.

A real subprocess on a SQLite file, its own stream and subjects (deleted afterwards).
"""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

NATS_URL = "nats://127.0.0.1:4222"
CLI = [sys.executable, "-m", "stockledger.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _messages(stream: str) -> list[dict[str, Any]]:
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        try:
            state = (await js.stream_info(stream)).state
        except Exception:  # not created yet
            return []
        found = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else []:
            found.append(json.loads((await js.get_msg(stream, seq)).data or b"{}"))
        return found
    finally:
        await nc.close()


async def _delete_stream(stream: str) -> None:
    nc = await nats.connect(NATS_URL)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(stream)
    await nc.close()


@pytest.fixture
def stream() -> Iterator[str]:
    name = f"SLSERVE_{uuid.uuid4().hex[:10]}"
    yield name
    asyncio.run(_delete_stream(name))


def _env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "STOCKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "STOCKLEDGER_NATS_URL": NATS_URL,
    }


def _wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "serve exited early"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("serve did not become healthy")


def _wait_for_order(stream: str, order_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        messages = asyncio.run(_messages(stream))
        if any(m["payload"].get("orderId") == order_id for m in messages):
            return messages
        time.sleep(0.3)
    raise AssertionError(f"no event of {order_id} on {stream}")


def test_serve_publishes_a_reservation_to_jetstream_and_stops_cleanly(tmp_path: Path, stream: str) -> None:
    env = _env(tmp_path)
    demo = subprocess.run([*CLI, "demo"], env=env, capture_output=True, text=True, timeout=120, check=True)
    token = demo.stdout.strip().splitlines()[-1]
    port = _free_port()
    prefix = stream.lower()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--publish", "--stream", stream, "--subject-prefix", prefix],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, server)
        body = {
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 2}],
        }
        answer = httpx.post(
            f"{base}/v1/orders/SERVE-PUB-1/reserve",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text  # an order's reservation: 200
        messages = _wait_for_order(stream, "SERVE-PUB-1")
        [reserved] = [m for m in messages if m["payload"].get("orderId") == "SERVE-PUB-1"]
        assert reserved["eventType"] == "StockReserved"
        assert reserved["payload"]["lines"][0]["quantityReserved"] == 2
        seqs = [m["eventSeq"] for m in messages]
        assert seqs == sorted(set(seqs))  # in order, each once (the demo's events came first)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0, (server.stderr.read() if server.stderr else b"").decode()[-2000:]


def test_publish_without_a_nats_server_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"STOCKLEDGER_NATS_URL": ""}
    refused = subprocess.run(
        [*CLI, "serve", "--port", str(_free_port()), "--publish"], env=env, capture_output=True, timeout=60
    )
    assert refused.returncode == 2
    assert b"STOCKLEDGER_NATS_URL" in refused.stderr
