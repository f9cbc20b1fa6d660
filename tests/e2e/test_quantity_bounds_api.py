"""Quantities have an upper bound at the edge (422), and reads never overflow, even on rows larger
than the bound (written before it existed, or straight through the ledger)."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.auth.service import create_token
from stockledger.core.db import Database
from stockledger.core.quantities import MAX_QUANTITY
from stockledger.events.outbox import record_event
from stockledger.ledger.post import Posting, post

ITEM = "FG002-INV-001"
PRODUCT = {"facilityId": "FACILITY_1", "productId": "FG002"}
HUGE = Decimal(999_999_999_999)


def _variance(quantity: Any) -> dict[str, Any]:
    return {"inventoryItemId": ITEM, "quantity": quantity, "varianceReasonId": "VAR_FOUND"}


@pytest.mark.parametrize("quantity", [int(MAX_QUANTITY) + 1, -int(MAX_QUANTITY) - 1, 999_999_999_999])
def test_a_quantity_over_the_bound_is_a_422(seeded_client: TestClient, quantity: int) -> None:
    response = seeded_client.post("/v1/variances", json=_variance(quantity))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"


def test_a_reset_line_over_the_bound_fails(seeded_client: TestClient) -> None:
    lines = [{**PRODUCT, "quantityOnHand": int(MAX_QUANTITY) + 1}]
    body = seeded_client.post("/v1/external-inventory-resets", json={"lines": lines}).json()
    assert (body["linesFailed"], body["failures"][0]["code"]) == (1, "invalid_quantity")


def test_the_bound_itself_is_accepted(seeded_client: TestClient) -> None:
    response = seeded_client.post("/v1/variances", json=_variance(int(MAX_QUANTITY)))
    assert response.status_code == 200, response.text


def _post_past_the_bound(db: Database) -> None:
    """Rows no request may write any more: 999,999,999,999 and then 6 more units on one item."""
    for quantity in (HUGE, Decimal(6)):
        with db.transaction() as session:
            post(session, Posting("FACILITY_1", ITEM, "VAR_FOUND", quantity, quantity))
            record_event(session, "FACILITY_1", "InventoryChanged", {"inventoryItemId": ITEM})


def _get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.posts_without_events  # rows straight through the ledger
def test_reads_of_totals_past_the_bound_do_not_overflow(seeded_client: TestClient, seeded: Database) -> None:
    before = _get(seeded_client, "/v1/availability", **PRODUCT)["quantityOnHandTotal"]
    _post_past_the_bound(seeded)
    expected = before + 1_000_000_000_005
    for _ in range(2):  # the second is served by the fast path on PostgreSQL (the token is cached)
        assert _get(seeded_client, "/v1/availability", **PRODUCT)["quantityOnHandTotal"] == expected
    as_of = _get(seeded_client, "/v1/availability", **PRODUCT, asOf="2999-01-01T00:00:00Z")
    assert as_of["quantityOnHandTotal"] == expected
    rows = _get(seeded_client, "/v1/product-facility-inventory")["items"]
    assert [r["quantityOnHandTotal"] for r in rows if r["productId"] == "FG002"] == [expected]
    assert _get(seeded_client, f"/v1/inventory-items/{ITEM}")["quantityOnHandTotal"] > HUGE
    details = _get(seeded_client, f"/v1/inventory-items/{ITEM}/details", limit=1000)["items"]
    assert details[-1]["quantityOnHandDiff"] == 6


@pytest.mark.posts_without_events  # rows straight through the ledger
def test_a_store_token_reads_totals_past_the_bound(seeded_client: TestClient, seeded: Database) -> None:
    with seeded.transaction() as session:
        token = create_token(session, "store", facilities=["FACILITY_1"]).token
    _post_past_the_bound(seeded)
    seeded_client.headers["Authorization"] = f"Bearer {token}"
    for _ in range(2):
        assert _get(seeded_client, "/v1/availability", **PRODUCT)["quantityOnHandTotal"] > HUGE
    assert _get(seeded_client, "/v1/product-facility-inventory", facilityId="FACILITY_1")["items"]
    assert _get(seeded_client, "/v1/product-facility-inventory")["items"]


@pytest.mark.parametrize("number", ["1.0000000000000000000000001", "0.0000001", "2.1234567"])
def test_more_than_6_decimals_is_a_422_not_rounded(seeded_client: TestClient, number: str) -> None:
    """The body is read with exact numbers: the float it would round to never reaches validation."""
    body = f'{{"inventoryItemId": "{ITEM}", "quantity": {number}, "varianceReasonId": "VAR_FOUND"}}'
    for path, sent in (("/v1/variances", body), ("/v1/reservations", _reservation(number))):
        response = seeded_client.post(path, content=sent, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_failed"
        assert response.json()["errors"][0]["type"] == "decimal_max_places"


def _reservation(number: str) -> str:
    ids = '"orderId": "O-DEC", "orderItemSeqId": "00001", "productId": "FG001", "facilityId": "FACILITY_1"'
    return f'{{{ids}, "quantity": {number}}}'


def test_six_decimals_are_kept_exactly(seeded_client: TestClient) -> None:
    body = f'{{"inventoryItemId": "{ITEM}", "quantity": 0.123456, "varianceReasonId": "VAR_FOUND"}}'
    response = seeded_client.post("/v1/variances", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
