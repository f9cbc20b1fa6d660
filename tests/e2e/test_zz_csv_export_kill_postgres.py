"""A streamed CSV export whose database connection is killed (pg_terminate_backend) under a real
`stockledger serve`: before the first byte it is a 503 (after the read's one retry), never a 200
with a short body; after it, the body is cut (the client sees an incomplete transfer, never a
complete-looking file that lacks rows) and the log has one warning line and no traceback.

The kills are exact: another transaction holds ACCESS EXCLUSIVE on inventory_item_detail, and the
backend that waits for it is terminated, then its retry (see test_zz_connection_kill_postgres.py).
"""

import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text

from stockledger.auth.service import create_token
from stockledger.core.config import default
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.stress.support import Server, add_facility_and_products, fresh_database

pytestmark = pytest.mark.postgres

FACILITY = "CSVKILL"
# ≈ 3 MB of CSV: more than the socket buffers hold ahead of the reader
ROWS = 30 * default("csv_export_chunk_rows")
LOCK_DETAILS = "LOCK TABLE inventory_item_detail IN ACCESS EXCLUSIVE MODE"


@dataclass
class Export:
    db: Database
    driver_url: str
    server: Server
    log: Path
    token: str
    item_id: str

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Export]:
    with fresh_database() as db_url:
        db = Database(db_url)
        add_facility_and_products(db, FACILITY, ["CK1"])
        with db.transaction() as session:
            reset_inventory(session, [RawLine(2, FACILITY, "CK1", "100")], "csv kill tests")
            item_id = session.scalars(select(InventoryItem.inventory_item_id)).one()
            # Detail rows that change nothing (zero diffs): the ledger stays balanced.
            session.execute(
                text(
                    "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, "
                    "inventory_item_detail_seq_id, seq_num, effective_date, quantity_on_hand_diff, "
                    "available_to_promise_diff, accounting_quantity_diff, description, created_stamp) "
                    "SELECT :f, :i, 'K' || lpad(n::text, 6, '0'), 1000 + n, now(), 0, 0, 0, "
                    "'a zero row to make the export long', now() FROM generate_series(1, :n) AS n"
                ),
                {"f": FACILITY, "i": item_id, "n": ROWS},
            )
            token = create_token(session, "admin", description="csv kill tests").token
        log = Path(tmp_path_factory.mktemp("serve")) / "serve.log"
        server = Server(db_url, workers=1, log=log)
        try:
            yield Export(
                db, db_url.replace("postgresql+psycopg://", "postgresql://"), server, log, token, item_id
            )
        finally:
            server.stop()
            db.dispose()


def _waiter(admin: psycopg.Connection[Any], not_in: set[int]) -> int:
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        waiting = [row[0] for row in admin.execute(query).fetchall() if row[0] not in not_in]
        if waiting:
            return int(waiting[0])
        time.sleep(0.02)
    raise AssertionError("the export never waited for the lock")


def _kill_the_read_and_its_retry(export: Export, admin: psycopg.Connection[Any]) -> None:
    first = _waiter(admin, set())
    assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,)).fetchone() == (True,)
    second = _waiter(admin, {first})
    assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (second,)).fetchone() == (True,)


def _log(export: Export) -> str:
    time.sleep(0.3)  # the server writes its lines as it goes
    return export.log.read_text(errors="replace")


def _send(export: Export, conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path, headers={"Authorization": f"Bearer {export.token}"})
    return conn.getresponse()


def test_a_connection_killed_before_the_first_byte_is_a_503(export: Export) -> None:
    conn = export.connection()
    warm = _send(export, conn, f"/v1/inventory-items/{export.item_id}")  # the token is cached now
    warm.read()
    assert warm.status == 200
    answer: list[tuple[int, dict[str, str], bytes]] = []

    def fetch() -> None:
        response = _send(export, conn, f"/v1/inventory-items/{export.item_id}/details?format=csv")
        answer.append((response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()))

    with (
        psycopg.connect(export.driver_url, autocommit=True) as admin,
        psycopg.connect(export.driver_url) as holder,
    ):
        holder.execute(LOCK_DETAILS)
        thread = threading.Thread(target=fetch)
        thread.start()
        _kill_the_read_and_its_retry(export, admin)
        holder.rollback()
        thread.join(30)
    [(status, headers, body)] = answer
    assert status == 503, body[:300]
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "2"
    assert json.loads(body)["code"] == "database_unavailable"
    conn.close()


def test_a_connection_killed_mid_stream_cuts_the_body_without_a_traceback(export: Export) -> None:
    before = _log(export)
    conn = export.connection()
    path = f"/v1/inventory-items/{export.item_id}/details?format=csv"
    response = _send(export, conn, path)
    assert response.status == 200
    start = response.read(1000)
    assert start.startswith(b"inventoryItemId,")
    outcome: list[BaseException | bytes] = []

    def read_the_rest() -> None:
        try:
            outcome.append(response.read())
        except http.client.IncompleteRead as cut:
            outcome.append(cut)

    with (
        psycopg.connect(export.driver_url, autocommit=True) as admin,
        psycopg.connect(export.driver_url) as holder,
    ):
        holder.execute(LOCK_DETAILS)  # the export's next chunk waits for it
        thread = threading.Thread(target=read_the_rest)
        thread.start()
        _kill_the_read_and_its_retry(export, admin)
        holder.rollback()
        thread.join(30)
    [got] = outcome
    assert isinstance(got, http.client.IncompleteRead), "the cut body looked complete"
    assert (start + got.partial).count(b"\r\n") < ROWS  # rows are missing, and the client knows
    logged = _log(export)[len(before) :]
    assert "Traceback" not in logged, logged
    assert "response already started" not in logged, logged
    warnings = [line for line in logged.splitlines() if "was cut short" in line]
    assert len(warnings) == 1, logged
    assert f"the CSV export of /v1/inventory-items/{export.item_id}/details was cut short" in warnings[0]
    assert "AdminShutdown" in warnings[0]

    # The server goes on serving: a new connection gets the whole export.
    again = export.connection()
    whole = _send(export, again, path)
    assert whole.status == 200
    assert whole.read().count(b"\r\n") == ROWS + 2  # the header, the reset's row and ROWS more
    again.close()
