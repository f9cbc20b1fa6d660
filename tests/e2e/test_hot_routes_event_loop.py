"""The hot routes on PostgreSQL's async pool (no worker-thread hop), and their thread-path fallbacks.

POST /v1/reservations without an Idempotency-Key: the sole-item statement on the event loop;
any other line, and any request when the pool has no connection at hand, in a worker thread.
GET /v1/availability: the same. Either way the same answers and the same ledger rows.
"""

import gc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.ledger import views
from stockledger.ledger.verify import find_mismatches
from tests.conftest import POSTGRES_LIKE
from tests.shipping_support import FACILITY, details, totals
from tests.stock_support import add_sole_item, committed_alone, reservations, sole_item_tries

D = Decimal
SOLO = "HOT-SOLO"


# The async pool is PostgreSQL's (and Citus's); SQLite takes the thread path (other tests).
on_postgres = pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)


@pytest.fixture
def solo(seeded: Database) -> str:
    return add_sole_item(seeded, SOLO, 5)


@pytest.fixture
def alone(seeded_client: TestClient) -> Iterator[list[tuple[str, int]]]:
    """The statements the app's Database committed alone, with the rows each returned."""
    with committed_alone(seeded_client.app.state.db) as seen:  # type: ignore[attr-defined]
        yield seen


@pytest.fixture
def tries(seeded_client: TestClient) -> Iterator[list[int]]:
    """The rows each try of the sole-item post returned (stock_support.sole_item_tries): on
    PostgreSQL the one statement committed alone, on Citus its post step (no change runs alone
    there: steps that each stay on one shard, ledger/sole_item_steps_pg.py, in the request's
    transaction, in the worker thread)."""
    with sole_item_tries(seeded_client.app.state.db) as seen:  # type: ignore[attr-defined]
        yield seen


def _reserve(client: TestClient, order_id: str, product_id: str, quantity: int, **extra: Any) -> Any:
    body = {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": product_id,
        "facilityId": FACILITY,
        "quantity": quantity,
        **extra,
    }
    return client.post("/v1/reservations", json=body)


@on_postgres
def test_the_async_pool_is_open_while_the_app_runs(seeded_client: TestClient) -> None:
    db: Database = seeded_client.app.state.db  # type: ignore[attr-defined]
    assert db.async_pool is not None


@on_postgres
def test_a_sole_item_line_is_one_statement_on_the_event_loop(
    seeded_client: TestClient,
    seeded: Database,
    solo: str,
    alone: list[tuple[str, int]],
    tries: list[int],
    backend: str,
) -> None:
    answer = _reserve(seeded_client, "HOT1", SOLO, 2)
    assert answer.status_code == 201, answer.text
    assert answer.json()["reservations"] == [
        {"inventoryItemId": solo, "quantity": 2, "quantityNotAvailable": 0}
    ]
    assert tries == [1]
    assert len(alone) == (0 if backend == "citus" else 1)
    assert totals(seeded, solo) == (D(5), D(3))
    assert [d.available_to_promise_diff for d in details(seeded, solo)] == [D(5), D(-2)]
    assert reservations(seeded, "HOT1") == [("00001", solo, D(2), D(0), "RES_ACTIVE")]


@on_postgres
def test_short_or_several_items_go_to_the_thread_path_once(
    seeded_client: TestClient,
    seeded: Database,
    solo: str,
    alone: list[tuple[str, int]],
    tries: list[int],
    backend: str,
) -> None:
    short = _reserve(seeded_client, "HOT2", SOLO, 6)
    assert short.status_code == 409, short.text
    assert short.headers["content-type"].startswith("application/problem+json")
    assert totals(seeded, solo) == (D(5), D(5))
    partial = _reserve(seeded_client, "HOT3", SOLO, 6, fill="PARTIAL")
    assert (partial.status_code, partial.json()["quantityReserved"]) == (201, 5)
    two_items = _reserve(seeded_client, "HOT4", "FG001", 13)  # FEFO over FG001's two items
    assert two_items.status_code == 201, two_items.text
    assert sum(r["quantity"] for r in two_items.json()["reservations"]) == 13
    # Each tried the statement once on the loop (no row, nothing written), never again in the thread.
    assert tries == [0, 0, 0]
    assert len(alone) == (0 if backend == "citus" else 3)
    with seeded.reading() as session:
        assert find_mismatches(session) == []


@on_postgres
def test_with_every_async_connection_taken_the_routes_answer_from_the_thread_path(
    seeded_client: TestClient,
    seeded: Database,
    solo: str,
    alone: list[tuple[str, int]],
    tries: list[int],
    backend: str,
) -> None:
    db: Database = seeded_client.app.state.db  # type: ignore[attr-defined]
    pool = db.async_pool
    assert pool is not None
    portal = seeded_client.portal
    assert portal is not None
    held = [portal.call(pool.getconn) for _ in range(db.pool_size)]  # the pool is exhausted
    try:
        answer = _reserve(seeded_client, "HOT5", SOLO, 1)
        assert answer.status_code == 201, answer.text
        read = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId={SOLO}")
        assert (read.status_code, read.json()["availableToPromiseTotal"]) == (200, 4)
    finally:
        for conn in held:
            portal.call(pool.putconn, conn)
    assert tries == [1]  # in the worker thread: Database.run_alone (PostgreSQL), the steps (Citus)
    assert len(alone) == (0 if backend == "citus" else 1)
    assert reservations(seeded, "HOT5") == [("00001", solo, D(1), D(0), "RES_ACTIVE")]


@on_postgres
def test_availability_on_the_loop_matches_the_session_read(
    seeded_client: TestClient, seeded: Database
) -> None:
    for product in ("FG001", "FG002", "FG003"):
        read = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId={product}")
        assert read.status_code == 200, read.text
        with seeded.reading() as session:
            expected = views.availability(session, FACILITY, product)
        assert D(str(read.json()["availableToPromiseTotal"])) == expected.available_to_promise_total
        assert D(str(read.json()["quantityOnHandTotal"])) == expected.quantity_on_hand_total
    missing = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId=NOPE")
    assert missing.status_code == 404


def test_the_startup_objects_are_frozen_out_of_the_collectors_way(client: TestClient) -> None:
    """The app's long-lived objects (routes, models, SQLAlchemy metadata) are moved to the
    permanent generation at startup, so a full collection during a request does not walk them."""
    assert gc.get_freeze_count() > 10_000
