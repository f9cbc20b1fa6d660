"""A client that goes away in the middle of its upload, under a real `stockledger serve` (a real
socket, closed after part of the body it announced): one warning line naming who, the route and
how many bytes came, no traceback, no answer, nothing changed; `/metrics` counts it as a 499.
An ERP reset (streamed after authentication; with an Idempotency-Key its body was read by the
key's middleware, which took the part for the whole and applied it) and POST /v1/import."""

import re
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.ledger.models import ExternalInventoryReset, Facility
from stockledger.ledger.views import availability
from tests.stress.support import Server

RESET = "/v1/external-inventory-resets"
CSV_HEAD = b"facilityId,productId,quantityOnHand,availableToPromise\n" + b"FACILITY_1,FG001,77,\n" * 4000
JSON_HEAD = b'{"facilityId": "CUT", "facilityName": "cut", "products": [' + b'{"productId": "PC"},' * 4000
CUT = re.compile(
    r"client 127\.0\.0\.1:\d+(?: \(user (\S+)\))? went away after (\d+) bytes of its POST (\S+) body"
)


@pytest.fixture
def server(seeded: Database, db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    log = tmp_path / "serve.log"
    running = Server(db_url, workers=1, log=log)
    try:
        yield running, log
    finally:
        running.stop()


def _cut_upload(port: int, path: str, headers: dict[str, str], head: bytes) -> None:
    """Announce twice `head`'s length, send `head`, wait for the server to read it, hang up."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {2 * len(head)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + head)
        time.sleep(0.5)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # nothing answered while the body is incomplete


def _logged(log: Path, seconds: float = 10) -> list[re.Match[str]]:
    deadline = time.monotonic() + seconds
    while True:
        text = log.read_text(errors="replace")
        found = list(CUT.finditer(text))
        if len(found) == 3 or time.monotonic() > deadline:
            assert "Traceback" not in text, text
            return found


def test_a_client_gone_mid_upload_is_one_log_line_and_changes_nothing(
    server: tuple[Server, Path], seeded: Database, admin_token: str
) -> None:
    running, log = server
    auth = {"Authorization": f"Bearer {admin_token}"}
    csv = {**auth, "Content-Type": "text/csv"}
    _cut_upload(running.port, RESET, csv, CSV_HEAD)
    _cut_upload(running.port, RESET, {**csv, "Idempotency-Key": "cut-1"}, CSV_HEAD)
    _cut_upload(running.port, "/v1/import", {**auth, "Content-Type": "application/json"}, JSON_HEAD)
    found = _logged(log)
    assert [(m.group(3), m.group(1) is not None) for m in found] == [
        (RESET, True),  # streamed after authentication: who it was
        (RESET, True),
        ("/v1/import", False),  # read whole before authentication: its address alone
    ]
    sizes = [int(m.group(2)) for m in found]
    assert all(0 < size <= len(CSV_HEAD) for size in sizes[:2]), sizes
    assert 0 < sizes[2] <= len(JSON_HEAD), sizes
    with seeded.reading() as session:
        assert availability(session, "FACILITY_1", "FG001").quantity_on_hand_total == Decimal(31)
        assert session.scalar(select(func.count()).select_from(ExternalInventoryReset)) == 0
        assert session.get(Facility, "CUT") is None
    metrics = httpx.get(f"{running.base_url}/metrics", timeout=10).text
    assert f'method="POST",route="{RESET}",status="499"' in metrics, metrics
    # The server goes on: the same reset sent whole is applied.
    whole = httpx.post(f"{running.base_url}{RESET}", headers=csv, content=CSV_HEAD, timeout=30)
    assert whole.status_code == 200, whole.text
