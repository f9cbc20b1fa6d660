"""Totals past what the database can hold or add, made by many lines of huge reservations (each
line within the bound of 10^9): the write that would leave them is refused (422
quantity_overflow) on both databases, nothing of it applied, and the reads of the facility stay
answerable.
"""

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database

LINES = 9_000
HUGE = 10**9  # the bound of one quantity


def _order(lines: int, product_id: str = "FG002") -> dict[str, Any]:
    return {
        "facilityId": "FACILITY_1",
        "fill": "BACKORDER",
        "items": [
            {"orderItemSeqId": f"{n:05d}", "productId": product_id, "quantity": HUGE} for n in range(lines)
        ],
    }


def _availability(client: TestClient, product_id: str) -> dict[str, Any]:
    answer = client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": product_id})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_backorders_past_the_summable_bound_are_refused(seeded_client: TestClient, seeded: Database) -> None:
    first = seeded_client.post("/v1/orders/BIG-1/reserve", json=_order(LINES))
    assert first.status_code == 200, first.text[:500]
    after_first = _availability(seeded_client, "FG002")
    assert after_first["reservedQuantity"] == LINES * HUGE

    second = seeded_client.post("/v1/orders/BIG-2/reserve", json=_order(LINES))
    assert second.status_code == 422, second.text[:500]
    assert second.json()["code"] == "quantity_overflow"
    assert _availability(seeded_client, "FG002") == after_first  # nothing of it applied
    assert seeded_client.get("/v1/orders/BIG-2/reservations").json()["items"] == []


def test_one_reservation_past_the_bound_is_refused_without_a_traceback(
    seeded_client: TestClient, seeded: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 lines x 10^9: one item's ATP would be -10^13 units, past its BIGINT millionths."""
    before = _availability(seeded_client, "FG002")
    with caplog.at_level(logging.WARNING):
        answer = seeded_client.post("/v1/orders/BIG-3/reserve", json=_order(10_000))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert answer.status_code == 422, answer.text[:500]
    assert answer.json()["code"] == "quantity_overflow", answer.text[:400]
    assert _availability(seeded_client, "FG002") == before
