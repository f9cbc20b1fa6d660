"""A PostgreSQL outage: requests get 503 problem+json with Retry-After, and the same app recovers.

The server that goes down is a private PostgreSQL 15 instance started for this test (initdb in
a temporary directory, its own port), stopped with `-m fast` and started again: a real outage
that does not take the shared server on 5432 away from other test runs. It is always stopped
and removed at the end, whatever happens.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from stockledger.app import create_app
from stockledger.auth.service import create_token
from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core import migrate
from stockledger.core.db import Database
from stockledger.ledger.verify import find_mismatches

PG_BIN = Path("/usr/lib/postgresql/15/bin")
AVAILABILITY = "/v1/availability?facilityId=FACILITY_1&productId=FG002"
VARIANCE = {"inventoryItemId": "FG002-INV-001", "quantity": 1, "varianceReasonId": "VAR_FOUND"}

pytestmark = pytest.mark.postgres


class Server:
    """A private PostgreSQL server: data directory, port, and pg_ctl run as the postgres user."""

    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, str(PG_BIN / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            "pg_ctl",
            "-D",
            str(self.home / "data"),
            "-l",
            str(self.home / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        deadline = time.monotonic() + 30
        while subprocess.run(
            ["pg_isready", "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
        ).returncode:
            assert time.monotonic() < deadline, "PostgreSQL did not come back"
            time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.home / "data"), "-m", mode, "-w", "stop")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[Server]:
    home = Path(tempfile.mkdtemp(prefix="stockledger-outage-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    pg = Server(home, _free_port())
    try:
        pg.run(
            "initdb", "-D", str(home / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        pg.start()
        yield pg
    finally:
        with suppress(subprocess.CalledProcessError):  # not running (initdb failed, or already down)
            pg.stop("immediate")
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _stopped(server: Server) -> Iterator[None]:
    """The server down for the block, and always started again (and ready) after it."""
    server.stop()
    try:
        yield
    finally:
        server.start()


def _unavailable(response: Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (503, "database_unavailable")
    return body


def _qoh(client: TestClient) -> Any:
    response = client.get(AVAILABILITY)
    assert response.status_code == 200, response.text
    return response.json()["quantityOnHandTotal"]


def test_an_outage_is_503_then_the_same_app_serves_again(server: Server) -> None:
    db = Database(server.url)
    migrate.upgrade(db.engine)
    load_documents(db, seed_documents())
    with db.transaction() as session:
        admin = create_token(session, "admin", description="outage test").token
        fresh = create_token(session, "store", description="first used during the outage").token
    headers = {"Authorization": f"Bearer {admin}"}
    with TestClient(create_app(server.url), raise_server_exceptions=False, headers=headers) as client:
        assert _qoh(client) == 31
        with _stopped(server):
            _unavailable(client.get(AVAILABILITY))  # the token is cached; the read fails
            _unavailable(client.post("/v1/variances", json=VARIANCE))
            # Failing inside a middleware: the idempotency claim, and a token not cached yet.
            _unavailable(client.post("/v1/variances", json=VARIANCE, headers={"Idempotency-Key": "k-outage"}))
            _unavailable(client.get(AVAILABILITY, headers={"Authorization": f"Bearer {fresh}"}))
            _unavailable(client.get("/healthz"))
        assert _qoh(client) == 31  # nothing sent during the outage was applied
        answer = client.post("/v1/variances", json=VARIANCE, headers={"Idempotency-Key": "k-outage"})
        assert answer.status_code == 200, answer.text
        assert "idempotent-replayed" not in answer.headers  # the 503 was not kept as the key's answer
        assert _qoh(client) == 32
        assert client.get(AVAILABILITY, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
        assert client.get("/healthz").json() == {"status": "ok", "database": "postgresql"}
    with db.reading() as session:
        assert find_mismatches(session) == []
    db.dispose()
