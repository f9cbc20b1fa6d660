"""Broken input is the client's error: tampered cursors, NUL characters, deeply nested JSON and
bodies of another media type are 400/422/415 problem+json, never 500 or 503, and change nothing."""

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from stockledger.auth.service import create_token
from stockledger.core.db import Database
from stockledger.core.pagination import encode_cursor
from tests.shipping_support import snapshot

JSON = {"content-type": "application/json"}
DEEP = b"[" * 5000 + b"]" * 5000
VARIANCE = {"inventoryItemId": "FG002-INV-001", "quantity": 1, "varianceReasonId": "VAR_FOUND"}


def _problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in response.headers
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def _junk(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_INT_CURSORS = [
    *(encode_cursor(k) for k in (["a"], [None], [[1]], [10**30], [1, 2], [-1], [True], [0.5])),
    *(encode_cursor([k]) for k in (2**31, 2**63 - 1)),  # past the INTEGER column (PostgreSQL: 503 before)
    "!!!not-base64",
    "e30",  # {}
    _junk("[1"),
    _junk("[" * 400 + "]" * 400),
    "A" * 501,
]


@pytest.mark.parametrize("cursor", BAD_INT_CURSORS)
def test_a_tampered_details_cursor_is_a_422(seeded_client: TestClient, cursor: str) -> None:
    response = seeded_client.get("/v1/inventory-items/FG002-INV-001/details", params={"cursor": cursor})
    _problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "key", [[1, "FG001"], ["FACILITY_1", None], ["F\x00", "FG001"], ["a"], [[], []], ["\ud800", "x"]]
)
def test_a_tampered_view_cursor_is_a_422(seeded_client: TestClient, key: list[Any]) -> None:
    response = seeded_client.get("/v1/product-facility-inventory", params={"cursor": encode_cursor(key)})
    _problem(response, 422, "validation_failed")


def test_a_tampered_pick_list_cursor_is_a_422(seeded_client: TestClient) -> None:
    response = seeded_client.get("/v1/orders/O1/pick-suggestions", params={"cursor": encode_cursor([-5])})
    _problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/products/%00",
        "/v1/facilities/FACILITY%00",
        "/v1/inventory-items/FG002-INV-001%00/details",
        "/v1/availability?facilityId=FACILITY_1%00&productId=FG001",
        "/v1/availability?facilityId=FACILITY_1&productId=FG001%00&asOf=2030-01-01T00:00:00Z",
        "/v1/product-facility-inventory?productId=%00",
    ],
)
def test_a_nul_in_the_path_or_query_is_a_422(seeded_client: TestClient, path: str) -> None:
    assert "NUL" in _problem(seeded_client.get(path), 422, "validation_failed")["detail"]


def test_a_nul_in_a_body_is_a_422_and_changes_nothing(seeded_client: TestClient, seeded: Database) -> None:
    before = snapshot(seeded)
    for body in (
        {**VARIANCE, "comments": "shelf\u0000 2"},
        {**VARIANCE, "inventoryItemId": "FG002-INV-001\u0000"},
    ):
        _problem(seeded_client.post("/v1/variances", json=body), 422, "validation_failed")
        _problem(
            seeded_client.post("/v1/variances", json=body, headers={"Idempotency-Key": "nul-1"}),
            422,
            "validation_failed",
        )
    reset = {
        "source": "ERP\u0000",
        "lines": [{"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 1}],
    }
    _problem(seeded_client.post("/v1/external-inventory-resets", json=reset), 422, "validation_failed")
    csv = "facilityId,productId,quantityOnHand\nFACILITY_1,FG001,1\n"
    response = seeded_client.post(
        "/v1/external-inventory-resets",
        params={"source": "nightly\x00"},
        content=csv.encode(),
        headers={"content-type": "text/csv"},
    )
    _problem(response, 422, "validation_failed")
    assert snapshot(seeded) == before


def test_a_nul_in_a_reset_csv_line_fails_the_line_in_json_refuses_all(seeded_client: TestClient) -> None:
    """A CSV (a streamed file): the line is reported failed, as any other malformed id, the
    others applied. A JSON body: text with a NUL anywhere in it is 422 (the error table), nothing
    applied."""
    nul_csv = "facilityId,productId,quantityOnHand\nFACILITY_1\x00,FG001,1\nFACILITY_1,FG002,5\n"
    response = seeded_client.post(
        "/v1/external-inventory-resets", content=nul_csv.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["linesFailed"], body["failures"][0]["code"], body["failures"][0]["line"]) == (
        1,
        "invalid_line",
        2,
    )
    line = {"facilityId": "FACILITY_1", "productId": "FG001\u0000", "quantityOnHand": 1}
    json_lines = {"lines": [line, {"facilityId": "FACILITY_1", "productId": "FG002", "quantityOnHand": 6}]}
    response = seeded_client.post("/v1/external-inventory-resets", json=json_lines)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    stock = seeded_client.get("/v1/product-facility-inventory", params={"productId": "FG002"}).json()
    assert [row["quantityOnHandTotal"] for row in stock["items"]] == [5]  # the CSV's, not 6


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(seeded_client: TestClient) -> None:
    body = json.dumps({**VARIANCE, "comments": "path C:\\u0000"}).encode()
    assert b"\\\\u0000" in body
    response = seeded_client.post("/v1/variances", content=body, headers=JSON)
    assert response.status_code == 200, response.text


@pytest.fixture
def store_token(seeded: Database) -> str:
    with seeded.transaction() as session:
        return create_token(session, "store", facilities=["FACILITY_1"]).token


def test_deeply_nested_json_is_a_400_for_every_caller(
    seeded_client: TestClient, seeded: Database, store_token: str
) -> None:
    before = snapshot(seeded)
    scoped = {**JSON, "Authorization": f"Bearer {store_token}"}
    _problem(seeded_client.post("/v1/variances", content=DEEP, headers=JSON), 400, "bad_request")
    _problem(seeded_client.post("/v1/variances", content=DEEP, headers=scoped), 400, "bad_request")
    keyed = {**JSON, "Idempotency-Key": "deep-1"}
    _problem(seeded_client.post("/v1/variances", content=DEEP, headers=keyed), 400, "bad_request")
    _problem(seeded_client.post("/v1/import", content=DEEP, headers=JSON), 400, "bad_request")
    reset = seeded_client.post("/v1/external-inventory-resets", content=DEEP, headers=JSON)
    _problem(reset, 400, "malformed_json")
    deep_object = b'{"lines": ' + DEEP + b"}"
    keyed_reset = {**JSON, "Idempotency-Key": "deep-2"}
    reset = seeded_client.post("/v1/external-inventory-resets", content=deep_object, headers=keyed_reset)
    _problem(reset, 400, "malformed_json")
    assert snapshot(seeded) == before


def test_json_sent_as_another_media_type_is_a_415(seeded_client: TestClient, seeded: Database) -> None:
    before = snapshot(seeded)
    body = json.dumps(VARIANCE).encode()
    for media in ("text/plain", "application/x-www-form-urlencoded", "text/csv"):
        response = seeded_client.post("/v1/variances", content=body, headers={"content-type": media})
        assert media in _problem(response, 415, "unsupported_media_type")["detail"]
    response = seeded_client.post("/v1/import", content=b"[]", headers={"content-type": "text/plain"})
    _problem(response, 415, "unsupported_media_type")
    response = seeded_client.post(
        "/v1/external-inventory-resets", content=b"x", headers={"content-type": "text/xml"}
    )
    _problem(response, 415, "unsupported_media_type")
    assert snapshot(seeded) == before
    charset = {"content-type": "application/json; charset=utf-8"}
    assert seeded_client.post("/v1/variances", content=body, headers=charset).status_code == 200


def test_json_sent_with_no_content_type_is_a_415(seeded_client: TestClient, seeded: Database) -> None:
    """The contract declares 415 for a body of no media type it takes; FastAPI alone would read an
    untyped body as JSON (and answer it 200, or 422)."""
    before = snapshot(seeded)
    body = json.dumps(VARIANCE).encode()
    untyped = seeded_client.post("/v1/variances", content=body)
    assert "content-type" not in untyped.request.headers
    assert "no Content-Type" in _problem(untyped, 415, "unsupported_media_type")["detail"]
    reset = {"lines": [{"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 3}]}
    untyped_reset = seeded_client.post("/v1/external-inventory-resets", content=json.dumps(reset).encode())
    _problem(untyped_reset, 415, "unsupported_media_type")
    assert snapshot(seeded) == before


@pytest.mark.parametrize("quantity", ["1", "", "1e3"])
def test_a_quantity_sent_as_a_string_is_a_422(
    seeded_client: TestClient, seeded: Database, quantity: str
) -> None:
    before = snapshot(seeded)
    response = seeded_client.post("/v1/variances", json={**VARIANCE, "quantity": quantity})
    body = _problem(response, 422, "validation_failed")
    assert body["errors"][0]["loc"] == ["body", "quantity"]
    assert "JSON number" in body["errors"][0]["msg"]
    order = {"orderId": "O9", "orderItemSeqId": "1", "productId": "FG001", "facilityId": "FACILITY_1"}
    _problem(
        seeded_client.post("/v1/reservations", json={**order, "quantity": quantity}), 422, "validation_failed"
    )
    assert snapshot(seeded) == before
