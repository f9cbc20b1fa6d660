"""Killed connections (pg_terminate_backend) under the app on the real PostgreSQL server: the
session reads of the read routes are retried once on a fresh connection (as plain availability
is), and a 503 is logged as one line, with no SQL, no parameters and no traceback.

The kills are exact: another transaction holds a lock the request waits for, and the backend
that waits is terminated (see test_zz_connection_kill_postgres.py).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from stockledger.core.db import Database

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]

ITEM = "FG003-INV-001"


def _driver_url(db: Database) -> str:
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


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
    raise AssertionError("the request never waited for the lock")


def _killed_once(db: Database, lock_sql: str, send: Callable[[], Response], retried: bool) -> Response:
    """`send()` while `lock_sql` is held; the backend that waits for it is terminated, and (when
    the read is `retried`) the request is seen waiting again on another backend; then released."""
    answer: list[Response] = []
    url = _driver_url(db)
    with psycopg.connect(url, autocommit=True) as admin, psycopg.connect(url) as holder:
        holder.execute(lock_sql)
        thread = threading.Thread(target=lambda: answer.append(send()))
        thread.start()
        first = _waiter(admin, set())
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,)).fetchone() == (True,)
        if retried:
            assert _waiter(admin, {first}) != first
        holder.rollback()
        thread.join(30)
    assert answer, "no answer"
    return answer[0]


LOCK_ITEMS = "LOCK TABLE inventory_item IN ACCESS EXCLUSIVE MODE"


def test_an_inventory_item_read_whose_connection_dies_is_retried(
    seeded_client: TestClient, seeded: Database
) -> None:
    expected = seeded_client.get(f"/v1/inventory-items/{ITEM}")
    assert expected.status_code == 200, expected.text
    answer = _killed_once(
        seeded, LOCK_ITEMS, lambda: seeded_client.get(f"/v1/inventory-items/{ITEM}"), retried=True
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected.json()


def test_an_availability_replay_whose_connection_dies_is_retried(
    seeded_client: TestClient, seeded: Database
) -> None:
    path = "/v1/availability?facilityId=FACILITY_1&productId=FG003&asOf=2100-01-01T00:00:00Z"
    expected = seeded_client.get(path)
    assert expected.status_code == 200, expected.text
    answer = _killed_once(seeded, LOCK_ITEMS, lambda: seeded_client.get(path), retried=True)
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected.json()


def test_a_write_whose_connection_dies_logs_one_line_without_sql_or_parameters(
    seeded_client: TestClient, seeded: Database, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/v1/orders/ORDER-SECRET-4242/reserve"
    body = {
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 1}],
    }
    with caplog.at_level(logging.INFO, logger="stockledger"):
        answer = _killed_once(seeded, LOCK_ITEMS, lambda: seeded_client.post(path, json=body), retried=False)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    logged = [r for r in caplog.records if r.name.startswith("stockledger")]
    assert [(r.levelno, r.getMessage()) for r in logged] == [
        (
            logging.WARNING,
            f"database unavailable on {path}: "
            "AdminShutdown: terminating connection due to administrator command",
        )
    ]
    assert logged[0].exc_info is None
