"""scripts/citus.sh on the running cluster: `start` again changes nothing and prints the same
URL, `status` reports every node and worker, and port 5432 is refused before anything runs."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.databases import CITUS_URL

pytestmark = pytest.mark.citus
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "citus.sh"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=os.environ | env, capture_output=True, text=True, timeout=120
    )


def test_start_again_is_quick_and_prints_the_same_url() -> None:
    started = time.monotonic()
    again = _run("start")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == CITUS_URL
    assert "Citus is installed" in again.stderr  # no build
    assert time.monotonic() - started < 60


def test_status_reports_every_node_and_both_workers() -> None:
    status = _run("status")
    assert status.returncode == 0, status.stderr
    port = make_url(str(CITUS_URL)).port or 0  # the coordinator's; the workers' follow it
    lines = [line for line in status.stdout.splitlines() if not line.endswith("(added)")]  # start-node's
    assert lines[:3] == [f"node :{port + n} running" for n in range(3)]
    assert lines[3].startswith("Citus 13.2.2 ")
    assert lines[4:] == [f"worker 127.0.0.1:{port + 1}", f"worker 127.0.0.1:{port + 2}", CITUS_URL]


def test_the_main_server_port_is_refused() -> None:
    refused = _run("start", CITUS_PORT="5431", CITUS_DATA="/nonexistent/citus")
    assert refused.returncode == 1
    assert "port 5432 belongs to the main PostgreSQL server" in refused.stderr
    assert not Path("/nonexistent/citus").exists()


def test_one_node_commands_refuse_the_main_server_and_a_missing_port() -> None:
    for command in ("start-node", "stop-node", "add-worker"):
        refused = _run(command, "5432")
        assert refused.returncode == 1
        assert "port 5432 belongs to the main PostgreSQL server" in refused.stderr
        assert _run(command).returncode == 1


def test_stop_node_of_a_node_that_never_existed_changes_nothing() -> None:
    stopped = _run("stop-node", "9799")
    assert stopped.returncode == 0, stopped.stderr
    assert _run("status").returncode == 0  # every node of the cluster still running
