"""Ids longer than their String(60) columns and text no database can store (a lone surrogate) are
422 problem+json on both databases, at the edge: not a 503 from PostgreSQL, not stored by SQLite."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from stockledger.core.db import Database
from stockledger.core.problems import database_problem
from tests.conftest import POSTGRES_LIKE
from tests.shipping_support import snapshot

LONG = "A" * 61
ORDER = {
    "facilityId": "FACILITY_1",
    "items": [{"orderItemSeqId": "00001", "productId": "FG001", "quantity": 1}],
}
JSON = {"content-type": "application/json"}


def _problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in response.headers
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", f"/v1/orders/{'A' * 300}/reserve", ORDER),
        ("post", f"/v1/orders/{LONG}/items/00001/reject", {"rejectionMode": "NO_CHANGE"}),
        ("delete", f"/v1/reservations/O1/{LONG}", None),
        ("post", f"/v1/facilities/FACILITY_1/products/{LONG}/inventory-item", None),
        ("get", f"/v1/inventory-items/{LONG}", None),
        ("get", f"/v1/shipments/{LONG}", None),
    ],
)
def test_a_path_id_longer_than_its_column_is_a_422(
    seeded_client: TestClient, seeded: Database, method: str, path: str, body: Any
) -> None:
    before = snapshot(seeded)
    response = seeded_client.request(method, path, json=body)
    assert "path" in _problem(response, 422, "validation_failed")["errors"][0]["loc"]
    assert snapshot(seeded) == before


@pytest.mark.parametrize(
    "document",
    [
        {"facilityId": "F-LONG", "products": [{"productId": "P-LONG", "productTypeId": LONG}]},
        {"facilityId": "F-LONG", "facilityTypeId": LONG},
        {"productId": "P-LONG", "productTypeId": "x" * 5000},
        [{"inventoryItemId": "I-LONG", "productId": "FG001", "facilityId": "FACILITY_1", "lotId": LONG}],
    ],
)
def test_an_imported_field_longer_than_its_column_is_a_422(
    seeded_client: TestClient, seeded: Database, document: Any
) -> None:
    before = snapshot(seeded)
    refused = _problem(seeded_client.post("/v1/import", json=document), 422, "validation_failed")
    assert refused["errors"][0]["type"] == "string_too_long"
    assert snapshot(seeded) == before


def test_a_lone_surrogate_in_a_reset_source_is_a_422(seeded_client: TestClient, seeded: Database) -> None:
    before = snapshot(seeded)
    reset = {
        "source": "\ud800",
        "lines": [{"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 1}],
    }
    body = json.dumps(reset).encode()  # ASCII: "\\ud800", as a client would send it
    response = seeded_client.post("/v1/external-inventory-resets", content=body, headers=JSON)
    assert "surrogate" in _problem(response, 422, "validation_failed")["detail"]
    assert snapshot(seeded) == before


@pytest.mark.parametrize("text_", ["\ud800", "a\udc00", "\ud83dx"])
def test_a_lone_surrogate_in_any_json_body_is_a_422(seeded_client: TestClient, text_: str) -> None:
    variance = {"inventoryItemId": "FG002-INV-001", "quantity": 1, "varianceReasonId": "VAR_FOUND"}
    body = json.dumps({**variance, "comments": text_}).encode()
    _problem(seeded_client.post("/v1/variances", content=body, headers=JSON), 422, "validation_failed")


def test_a_surrogate_pair_is_text(seeded_client: TestClient) -> None:
    variance = {"inventoryItemId": "FG002-INV-001", "quantity": 1, "varianceReasonId": "VAR_FOUND"}
    body = json.dumps({**variance, "comments": "box \U0001f4e6"}).encode()
    assert b"\\ud83d\\udce6" in body
    response = seeded_client.post("/v1/variances", content=body, headers=JSON)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)  # SQLite checks neither
def test_a_value_past_its_column_that_reaches_postgresql_is_a_422_not_a_503(db: Database) -> None:
    """The backstop behind the edge: the driver's StringDataRightTruncation or
    NumericValueOutOfRange is the client's data, not an outage."""
    for statement in (
        "INSERT INTO product (product_id, created_stamp) VALUES (:long, now())",
        "SELECT CAST(:big AS INTEGER)",
    ):
        with pytest.raises(DBAPIError) as raised, db.transaction() as session:
            session.execute(text(statement), {"long": LONG, "big": 2**40})
        answer = database_problem("/v1/x", raised.value, {"Retry-After": "2"})
        assert answer.status_code == 422
        assert json.loads(bytes(answer.body))["code"] == "validation_failed"
        assert "retry-after" not in answer.headers
