"""Concurrent returns of one order on PostgreSQL: the cap holds, and no two returns deadlock."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.conftest import POSTGRES_LIKE
from tests.shipping_support import product_totals

ROUNDS = 3  # orders; each gets 8 concurrent returns


def _sell_two_lines(client: TestClient, order_id: str) -> None:
    lines = [{"orderItemSeqId": seq, "productId": "FG002", "quantity": 1} for seq in ("1", "2")]
    sold = client.post(
        "/v1/pos-sales", json={"orderId": order_id, "facilityId": "FACILITY_1", "items": lines}
    )
    assert sold.status_code == 201, sold.text


def _return(order_id: str, n: int) -> dict[str, Any]:
    """Half name an order item (1 or 2), half only the order: their locks overlap differently."""
    line = {"returnItemSeqId": "1", "productId": "FG002", "returnQuantity": 1}
    if n % 2:
        line["orderItemSeqId"] = str(1 + n // 2 % 2)
    return {
        "returnId": f"{order_id}-RET{n}",
        "orderId": order_id,
        "facilityId": "FACILITY_1",
        "items": [line],
    }


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_eight_concurrent_returns_of_a_two_unit_order_two_succeed_none_deadlock(
    seeded: Database, client: TestClient
) -> None:
    orders = [f"RV{k}" for k in range(ROUNDS)]
    for order_id in orders:
        _sell_two_lines(client, order_id)
    before = product_totals(seeded, "FG002")

    def send(order_id: str, n: int) -> int:
        answer = client.post("/v1/returns", json=_return(order_id, n))
        assert answer.status_code != 503, answer.text
        return int(answer.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for order_id in orders:
            statuses = list(pool.map(send, [order_id] * 8, range(8)))
            assert sorted(statuses) == [201, 201, *[409] * 6], statuses
    assert product_totals(seeded, "FG002") == (before[0] + 2 * ROUNDS, before[1])
