"""Receiving, reservations, rejection and pick lists over HTTP (both databases)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.shipping_support import snapshot

FAC = "FACILITY_1"


def _availability(client: TestClient, product: str) -> tuple[Any, Any]:
    body = client.get(f"/v1/availability?facilityId={FAC}&productId={product}").json()
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"]


def _reserve(client: TestClient, order: str, seq: str, product: str, qty: Any, **extra: Any) -> Any:
    body = {"orderId": order, "orderItemSeqId": seq, "productId": product, "facilityId": FAC, "quantity": qty}
    return client.post("/v1/reservations", json=body | extra)


def test_reserve_cancel_and_the_problem_answers(seeded_client: TestClient) -> None:
    created = _reserve(seeded_client, "O1", "00001", "FG001", 20)
    assert created.status_code == 201
    body = created.json()
    assert (body["quantityReserved"], body["quantityNotAvailable"]) == (20, 0)
    assert [r["inventoryItemId"] for r in body["reservations"]] == ["FG001-INV-001", "FG001-INV-002"]
    assert _availability(seeded_client, "FG001") == (31, 11)
    short = _reserve(seeded_client, "O2", "00001", "FG001", 12)
    assert short.status_code == 409
    assert short.headers["content-type"].startswith("application/problem+json")
    assert short.json()["code"] == "insufficient_stock"
    assert short.json()["lines"][0]["shortfall"] == 1
    released = seeded_client.delete("/v1/reservations/O1/00001")
    assert released.status_code == 200
    assert released.json()["quantityReleased"] == 20
    assert _availability(seeded_client, "FG001") == (31, 31)
    again = seeded_client.delete("/v1/reservations/O1/00001")
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"


def test_backorder_over_http_then_a_receipt_fills_it(seeded_client: TestClient) -> None:
    body = _reserve(seeded_client, "OB", "1", "FG001", 33, fill="BACKORDER").json()
    assert (body["quantityReserved"], body["quantityNotAvailable"]) == (33, 2)
    assert _availability(seeded_client, "FG001") == (31, -2)
    receipt = {
        "shipmentId": "PO-1",
        "facilityId": FAC,
        "items": [
            {
                "shipmentItemSeqId": "1",
                "productId": "FG001",
                "quantityAccepted": 3,
                "quantityRejected": 1,
                "rejectionReasonId": "SRJ_DAMAGED",
            }
        ],
    }
    answer = seeded_client.post("/v1/receipts", json=receipt)
    assert answer.status_code == 201
    assert answer.json()["items"][0]["backordersFilled"] == 2
    assert _availability(seeded_client, "FG001") == (34, 1)


def test_a_shipment_line_received_again_needs_additional(seeded_client: TestClient) -> None:
    line = {"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": 3}
    receipt = {"shipmentId": "PO-9", "facilityId": FAC, "items": [line]}
    assert seeded_client.post("/v1/receipts", json=receipt).status_code == 201
    before = _availability(seeded_client, "FG001")
    again = seeded_client.post("/v1/receipts", json=receipt)
    assert (again.status_code, again.headers["content-type"]) == (409, "application/problem+json")
    assert (again.json()["code"], again.json()["retryWith"]) == ("already_received", "additional")
    assert _availability(seeded_client, "FG001") == before
    more = seeded_client.post("/v1/receipts", json={**receipt, "additional": True})
    assert more.status_code == 201, more.text
    assert _availability(seeded_client, "FG001") == (before[0] + 3, before[1] + 3)


def test_reserve_an_order_then_pick_then_reject(seeded_client: TestClient) -> None:
    order = {
        "facilityId": FAC,
        "fill": "PARTIAL",
        "items": [
            {"orderItemSeqId": "1", "productId": "FG002", "quantity": 40},
            {"orderItemSeqId": "2", "productId": "FG003", "quantity": 2},
        ],
    }
    body = seeded_client.post("/v1/orders/OP/reserve", json=order).json()
    assert (body["quantityReserved"], body["quantityUnreserved"]) == (33, 9)
    picks = seeded_client.get("/v1/orders/OP/pick-suggestions").json()["items"]
    assert {(p["inventoryItemId"], p["quantityToPick"]) for p in picks} == {
        ("FG002-INV-001", 22),
        ("FG002-INV-002", 9),
        ("FG003-INV-001", 2),
    }
    assert all(p["areaId"] and p["locationSeqId"] and p["productName"] for p in picks)
    rejected = seeded_client.post(
        "/v1/orders/OP/items/2/reject", json={"rejectionMode": "ATP_QOH_ALL", "rejectReasonId": "REJ_DAMAGED"}
    )
    assert rejected.status_code == 200
    assert rejected.json()["quantityRejected"] == 2
    assert _availability(seeded_client, "FG003") == (60, 60)


@pytest.mark.parametrize(
    ("status", "method", "path", "body"),
    [
        (404, "post", "/v1/reservations", {"orderItemSeqId": "1", "productId": "NO_SUCH", "quantity": 1}),
        (422, "post", "/v1/reservations", {"orderItemSeqId": "1", "productId": "FG001", "quantity": -1}),
        (422, "post", "/v1/reservations", {"orderItemSeqId": "1", "productId": "FG001", "quantity": "NaN"}),
        (
            422,
            "post",
            "/v1/reservations",
            {"orderItemSeqId": "1", "productId": "FG001", "quantity": 1, "fill": "X"},
        ),
        (422, "post", "/v1/reservations", {"orderItemSeqId": "1", "productId": "FG001", "quantity": 1e300}),
        (
            404,
            "post",
            "/v1/orders/OX/reserve",
            {"items": [{"orderItemSeqId": "1", "productId": "FG001", "quantity": 1}], "facilityId": "NOPE"},
        ),
        (422, "post", "/v1/orders/OX/items/1/reject", {"rejectionMode": "ATP_HALF"}),
        (404, "post", "/v1/orders/OX/items/1/reject", {"rejectionMode": "ATP_ONE"}),
        (
            422,
            "post",
            "/v1/receipts",
            {
                "shipmentId": "P",
                "items": [{"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": -2}],
            },
        ),
        (
            422,
            "post",
            "/v1/receipts",
            {
                "shipmentId": "P",
                "items": [{"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": "Infinity"}],
            },
        ),
        (
            404,
            "post",
            "/v1/receipts",
            {
                "shipmentId": "P",
                "items": [
                    {
                        "shipmentItemSeqId": "1",
                        "productId": "FG001",
                        "quantityAccepted": 1,
                        "locationSeqId": "9999",
                    }
                ],
            },
        ),
        (422, "get", "/v1/orders/NOTHING/pick-suggestions?limit=0", None),
    ],
)
def test_bad_input_is_a_problem_and_changes_nothing(
    seeded: Database,
    seeded_client: TestClient,
    status: int,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = snapshot(seeded)
    if path == "/v1/receipts":
        body = {"facilityId": FAC} | (body or {})
    elif body is not None and "items" not in body and "/reject" not in path:
        body = {"orderId": "OX", "facilityId": FAC} | body
    elif "/reject" in path:
        body = {"facilityId": FAC} | (body or {})
    answer = seeded_client.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == {404: "not_found", 422: "validation_failed"}[status]
    assert snapshot(seeded) == before
