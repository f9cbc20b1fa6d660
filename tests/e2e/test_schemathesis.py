"""Schemathesis with every check, every phase (examples, coverage, fuzzing, stateful) against a
live `stockledger serve` on seeded data, as an admin: 0 failures. What the contract cannot say
(real cursors, CSV bodies) comes from tests/e2e/schemathesis_hooks.py."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stockledger.core.db import Database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLES_PER_OPERATION = 10  # about a minute and a half on SQLite on the 2-CPU machine
EVERYTHING = (
    *("--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"),
    *("--max-examples", str(EXAMPLES_PER_OPERATION), "--generation-deterministic", "--no-color"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(seeded: Database, db_url: str, tmp_path: Path) -> Iterator[str]:
    """The app served by `stockledger serve` on the test's database; its base URL."""
    port = _free_port()
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": db_url}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [BIN / "stockledger", "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def test_every_check_in_every_phase_finds_nothing(served: str, admin_token: str, tmp_path: Path) -> None:
    token = admin_token
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [BIN / "st", "run", f"{served}/openapi.json", *EVERYTHING, "-H", f"Authorization: Bearer {token}"],
        cwd=tmp_path,  # its cache (.schemathesis/) stays out of the tree
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (tmp_path / "schemathesis.log").write_text(run.stdout)
    found = run.stdout.find("=== FAILURES ===")
    summary = run.stdout[found : found + 8000] if found >= 0 else run.stdout[-6000:]
    assert run.returncode == 0, summary
    operations = len(
        [op for ops in httpx.get(f"{served}/openapi.json").json()["paths"].values() for op in ops]
    )
    assert re.search(rf"Operations:\s+{operations} selected / {operations} total", run.stdout), summary
    assert re.search(rf"Tested: {operations}\b", run.stdout), summary  # every operation
    assert "Stateful" in run.stdout
