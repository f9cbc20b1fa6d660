"""One order item, one product, over HTTP: the README's O1/00001 is FG001, and every route that
names it with FG002 answers 409 order_item_conflict (problem+json) and changes nothing; the
reproduction of issue 16 (SH-1 shipping FG001 units for an FG002 line) cannot happen."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.shipping_support import FACILITY, snapshot

RESERVATION = {"orderId": "O1", "orderItemSeqId": "00001", "facilityId": FACILITY}
LINE = {"orderItemSeqId": "00001", "productId": "FG002", "quantity": 5}
SHIPMENT = {
    "shipmentId": "SH-1",
    "primaryOrderId": "O1",
    "originFacilityId": FACILITY,
    "items": [{"shipmentItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG002", "quantity": 5}],
}
RETURN = {
    "returnId": "R-1",
    "orderId": "O1",
    "facilityId": FACILITY,
    "items": [
        {"returnItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG002", "returnQuantity": 1}
    ],
}
ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "reservation": ("/v1/reservations", {**RESERVATION, "productId": "FG002", "quantity": 5}),
    "reservation_backorder": (
        "/v1/reservations",
        {**RESERVATION, "productId": "FG002", "quantity": 500, "fill": "BACKORDER"},
    ),
    "order_reserve": ("/v1/orders/O1/reserve", {"facilityId": FACILITY, "items": [LINE]}),
    "pos_sale": ("/v1/pos-sales", {"orderId": "O1", "facilityId": FACILITY, "items": [LINE]}),
    "shipment": ("/v1/shipments", SHIPMENT),
    "reject": (
        "/v1/orders/O1/items/00001/reject",
        {"rejectionMode": "RELEASE", "facilityId": FACILITY, "productId": "FG002"},
    ),
    "return": ("/v1/returns", RETURN),
}


@pytest.fixture
def reserved(seeded_client: TestClient) -> TestClient:
    """README "Try it": O1/00001 reserves FG001 × 2."""
    answer = seeded_client.post("/v1/reservations", json={**RESERVATION, "productId": "FG001", "quantity": 2})
    assert answer.status_code == 201, answer.text
    return seeded_client


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_naming_the_order_item_with_another_product_is_409(
    reserved: TestClient, seeded: Database, route: str
) -> None:
    path, body = ROUTES[route]
    before = snapshot(seeded)
    answer = reserved.post(path, json=body)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["productId"], problem["requestedProductId"]) == (
        "order_item_conflict",
        "FG001",
        "FG002",
    )
    assert snapshot(seeded) == before


def test_the_order_items_own_product_ships_from_its_own_reservation(reserved: TestClient) -> None:
    shipment = {**SHIPMENT, "items": [{**SHIPMENT["items"][0], "productId": "FG001", "quantity": 2}]}
    assert reserved.post("/v1/shipments", json=shipment).status_code == 201
    shipped = reserved.post("/v1/shipments/SH-1/ship", json={})
    assert shipped.status_code == 200, shipped.text
    assert [(i["inventoryItemId"], i["quantity"]) for i in shipped.json()["issuances"]] == [
        ("FG001-INV-001", 2)
    ]
