"""The outside tester's case: `ALTER TABLE … ALTER COLUMN … TYPE` on a column the reservation
returns (its item's id), run while the service takes reservations. Every reservation after it is
answered 201 (before: 503 database_unavailable, on every connection that had prepared the
statement, until it was replaced); the thread path's are in tests/integration/test_stale_plans."""

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.databases import fresh_postgres
from tests.shipping_support import FACILITY
from tests.stock_support import add_sole_item

PRODUCT = "STALE-PLAN"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own: the column's new type must not reach other tests."""
    with fresh_postgres("stockledger_reprep") as url:
        yield url


def _reserve(client: TestClient, order_id: str) -> None:
    body = {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": PRODUCT,
        "facilityId": FACILITY,
        "quantity": 1,
    }
    answer = client.post("/v1/reservations", json=body)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_reservations_go_on_after_a_column_they_return_changed_type(
    seeded: Database, client: TestClient, db_url: str
) -> None:
    add_sole_item(seeded, PRODUCT, 100)
    for n in range(10):  # the pool's connections prepare the reservation's statement
        _reserve(client, f"BEFORE-{n}")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE inventory_item ALTER COLUMN inventory_item_id TYPE varchar(200)")
    for n in range(10):
        _reserve(client, f"AFTER-{n}")
    answer = client.get(f"/v1/availability?facilityId={FACILITY}&productId={PRODUCT}")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["availableToPromiseTotal"], answer.json()["reservedQuantity"]) == (80, 20)
