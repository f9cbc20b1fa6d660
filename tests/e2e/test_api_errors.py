"""Bad input: a 4xx application/problem+json with a stable code, nothing written, never a 500."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.ledger.models import Facility, InventoryItem, InventoryItemDetail, Product


def _counts(db: Database) -> tuple[int, ...]:
    with db.reading() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Facility, Product, InventoryItem, InventoryItemDetail)
        )


def _assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def test_malformed_json_is_a_400(seeded_client: TestClient, seeded: Database) -> None:
    before = _counts(seeded)
    response = seeded_client.post(
        "/v1/import", content=b'{"facilityId": "F9", ', headers={"content-type": "application/json"}
    )
    _assert_problem(response, 400, "malformed_json")
    assert _counts(seeded) == before


def test_a_quantity_of_lots_is_a_422_naming_the_field(seeded_client: TestClient, seeded: Database) -> None:
    before = _counts(seeded)
    doc = [
        {
            "inventoryItemId": "X-1",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "inventoryItemDetails": [{"quantityOnHandDiff": "lots"}],
        }
    ]
    body = _assert_problem(seeded_client.post("/v1/import", json=doc), 422, "validation_failed")
    assert body["errors"][0]["loc"][-1] == "quantityOnHandDiff"
    assert _counts(seeded) == before


@pytest.mark.parametrize("bad", [float("inf"), 1e13, 0.0000001])
def test_non_finite_huge_or_too_precise_quantities_are_refused(
    seeded_client: TestClient, seeded: Database, bad: float
) -> None:
    before = _counts(seeded)
    doc = [
        {
            "inventoryItemId": "X-1",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "inventoryItemDetails": [{"quantityOnHandDiff": bad}],
        }
    ]
    answer = seeded_client.post(
        "/v1/import", content=_json_with(doc), headers={"content-type": "application/json"}
    )
    _assert_problem(answer, 422, "validation_failed")
    assert _counts(seeded) == before


def _json_with(doc: Any) -> bytes:
    import json

    return json.dumps(doc).replace("Infinity", "1e999").encode()


def test_half_a_document_is_never_applied(seeded_client: TestClient, seeded: Database) -> None:
    """The second item names an unknown product: the first item is not loaded either."""
    before = _counts(seeded)
    doc = [
        {
            "inventoryItemId": "OK-1",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "inventoryItemDetails": [{"quantityOnHandDiff": 3, "availableToPromiseDiff": 3}],
        },
        {"inventoryItemId": "BAD-1", "productId": "NO-SUCH", "facilityId": "FACILITY_1"},
    ]
    body = _assert_problem(seeded_client.post("/v1/import", json=doc), 404, "not_found")
    assert "NO-SUCH" in body["detail"]
    assert _counts(seeded) == before


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/facilities/NOWHERE", None),
        ("GET", "/v1/products/NOTHING", None),
        ("GET", "/v1/inventory-items/NO-ITEM", None),
        ("GET", "/v1/inventory-items/NO-ITEM/details", None),
        ("GET", "/v1/availability", {"facilityId": "NOWHERE", "productId": "FG001"}),
        ("GET", "/v1/availability", {"facilityId": "FACILITY_1", "productId": "NOTHING"}),
        ("POST", "/v1/facilities/NOWHERE/products/FG001/inventory-item", None),
        ("POST", "/v1/facilities/FACILITY_1/products/NOTHING/inventory-item", None),
    ],
)
def test_unknown_facility_product_or_item_is_a_404(
    seeded_client: TestClient, seeded: Database, method: str, path: str, params: dict[str, str] | None
) -> None:
    before = _counts(seeded)
    _assert_problem(seeded_client.request(method, path, params=params), 404, "not_found")
    assert _counts(seeded) == before


def test_unknown_document_kind_and_unknown_route(seeded_client: TestClient) -> None:
    _assert_problem(seeded_client.post("/v1/import", json={"hello": "world"}), 422, "validation_failed")
    _assert_problem(seeded_client.post("/v1/import", json=42), 422, "validation_failed")
    _assert_problem(seeded_client.get("/v1/nothing-here"), 404, "not_found")
    _assert_problem(seeded_client.delete("/v1/import"), 405, "method_not_allowed")


def test_bad_query_parameters(seeded_client: TestClient) -> None:
    _assert_problem(
        seeded_client.get("/v1/product-facility-inventory", params={"limit": 1001}), 422, "validation_failed"
    )
    _assert_problem(
        seeded_client.get("/v1/product-facility-inventory", params={"cursor": "garbage!"}),
        422,
        "validation_failed",
    )
    _assert_problem(
        seeded_client.get("/v1/availability", params={"facilityId": "FACILITY_1"}), 422, "validation_failed"
    )
    _assert_problem(
        seeded_client.get(
            "/v1/availability", params={"facilityId": "FACILITY_1", "productId": "FG001", "asOf": "yesterday"}
        ),
        422,
        "validation_failed",
    )


def test_an_item_id_taken_in_another_facility_is_a_conflict(seeded_client: TestClient) -> None:
    assert seeded_client.post("/v1/import", json={"facilityId": "FACILITY_2"}).status_code == 200
    doc = [{"inventoryItemId": "FG001-INV-001", "productId": "FG001", "facilityId": "FACILITY_2"}]
    _assert_problem(seeded_client.post("/v1/import", json=doc), 409, "conflict")
