"""Shipping over HTTP: shipments, reset, ship, POS sales, costing method; bad input is 4xx."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from stockledger.core.db import Database
from tests.shipping_support import snapshot, totals


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["detail"]
    return body


def shipment(shipment_id: str = "SH1", **extra: Any) -> dict[str, Any]:
    return {
        "shipmentId": shipment_id,
        "primaryOrderId": "ORD1",
        "originFacilityId": "FACILITY_1",
        "items": [
            {"shipmentItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG001", "quantity": 2}
        ],
        "shipGroup": {"shipGroupSeqId": "00001", "carrierPartyId": "UPS", "shipmentMethodTypeId": "GROUND"},
        "routeSegments": [{"shipmentRouteSegmentId": "00001"}, {"shipmentRouteSegmentId": "00002"}],
        **extra,
    }


def carriers(body: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [body, *body["routeSegments"]]
    return [(r["carrierPartyId"], r["shipmentMethodTypeId"]) for r in rows]


def test_create_read_patch_reset_over_http(seeded_client: TestClient) -> None:
    created = seeded_client.post("/v1/shipments", json=shipment())
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["shipmentId"], body["statusId"], body["originFacilityId"]) == (
        "SH1",
        "SHIPMENT_INPUT",
        "FACILITY_1",
    )
    assert body["items"][0] == {
        "shipmentItemSeqId": "00001",
        "orderId": "ORD1",
        "orderItemSeqId": "00001",
        "productId": "FG001",
        "quantity": 2,
    }
    patched = seeded_client.patch(
        "/v1/shipments/SH1",
        json={"statusId": "SHIPMENT_PACKED", "carrierPartyId": "FEDEX", "shipmentMethodTypeId": "AIR"},
    )
    assert patched.status_code == 200, patched.text
    assert carriers(patched.json()) == [("FEDEX", "AIR")] * 3
    reset = seeded_client.post("/v1/shipments/SH1/reset")
    assert reset.status_code == 200, reset.text
    assert reset.json()["statusId"] == "SHIPMENT_INPUT"
    assert carriers(reset.json()) == [("UPS", "GROUND")] * 3
    assert seeded_client.get("/v1/shipments/SH1").json() == reset.json()


def test_ship_as_planned_then_ship_again_is_409_and_reset_is_409(
    seeded_client: TestClient, seeded: Database
) -> None:
    assert seeded_client.post("/v1/shipments", json=shipment()).status_code == 201
    shipped = seeded_client.post("/v1/shipments/SH1/ship", json={"allowUnreserved": True})
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["statusId"] == "SHIPMENT_SHIPPED"
    assert [(i["inventoryItemId"], i["quantity"], i["cogs"]) for i in body["issuances"]] == [
        ("FG001-INV-001", 2, 21)
    ]
    assert body["totalCogs"] == 21  # 2 × 10.50 (seed unitCost; no cost layers)
    assert totals(seeded, "FG001-INV-001") == (11, 11)
    before = snapshot(seeded)
    problem(seeded_client.post("/v1/shipments/SH1/ship", json={"allowUnreserved": True}), 409, "conflict")
    problem(seeded_client.post("/v1/shipments/SH1/reset"), 409, "conflict")
    problem(seeded_client.patch("/v1/shipments/SH1", json={"carrierPartyId": "X"}), 409, "conflict")
    assert snapshot(seeded) == before
    assert seeded_client.get("/v1/shipments/SH1").json()["carrierPartyId"] == "UPS"


def test_shipping_without_a_reservation_needs_allow_unreserved(
    seeded_client: TestClient, seeded: Database
) -> None:
    assert seeded_client.post("/v1/shipments", json=shipment()).status_code == 201
    before = snapshot(seeded)
    body = problem(seeded_client.post("/v1/shipments/SH1/ship"), 409, "insufficient_stock")
    assert "allowUnreserved" in body["detail"]
    assert snapshot(seeded) == before
    assert seeded_client.get("/v1/shipments/SH1").json()["statusId"] == "SHIPMENT_INPUT"


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        ("/v1/shipments", {**shipment(), "items": []}, 422, "validation_failed"),
        ("/v1/shipments", {**shipment(), "primaryOrderId": None}, 422, "validation_failed"),
        (
            "/v1/shipments",
            shipment(
                items=[
                    {"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "FG001", "quantity": -1}
                ]
            ),
            422,
            "validation_failed",
        ),
        (
            "/v1/shipments",
            shipment(
                items=[
                    {"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "FG001", "quantity": "NaN"}
                ]
            ),
            422,
            "validation_failed",
        ),
        (
            "/v1/shipments",
            shipment(
                items=[{"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "FG001", "quantity": 1}]
                * 2
            ),
            422,
            "validation_failed",
        ),
        ("/v1/shipments", shipment(originFacilityId="NOWHERE"), 404, "not_found"),
        (
            "/v1/shipments",
            shipment(
                items=[{"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "NOPE", "quantity": 1}]
            ),
            404,
            "not_found",
        ),
        ("/v1/shipments/NOPE/reset", None, 404, "not_found"),
        ("/v1/shipments/NOPE/ship", None, 404, "not_found"),
        ("/v1/shipments/SH0/ship", {"items": []}, 422, "validation_failed"),
        (
            "/v1/shipments/SH0/ship",
            {"items": [{"shipmentItemSeqId": "9", "quantity": 1}]},
            422,
            "validation_failed",
        ),
        (
            "/v1/shipments/SH0/ship",
            {"items": [{"shipmentItemSeqId": "00001", "quantity": 0}]},
            422,
            "validation_failed",
        ),
        (
            "/v1/shipments/SH0/ship",
            {"items": [{"shipmentItemSeqId": "00001", "quantity": 1, "inventoryItemId": "NOPE"}]},
            404,
            "not_found",
        ),
        (
            "/v1/shipments/SH0/ship",
            {
                "items": [{"shipmentItemSeqId": "00001", "quantity": 1, "inventoryItemId": "FG002-INV-001"}],
                "allowUnreserved": True,
            },
            422,
            "validation_failed",
        ),
        (
            "/v1/shipments/SH0/ship",
            {
                "items": [{"shipmentItemSeqId": "00001", "quantity": 1, "lotId": "NO-LOT"}],
                "allowUnreserved": True,
            },
            404,
            "not_found",
        ),
        (
            "/v1/shipments/SH0/ship",
            {"items": [{"shipmentItemSeqId": "00001", "quantity": 99}], "allowUnreserved": True},
            409,
            "insufficient_stock",
        ),
        (
            "/v1/shipments/SH0/ship",
            {
                "items": [{"shipmentItemSeqId": "00001", "quantity": 14, "inventoryItemId": "FG001-INV-001"}],
                "allowUnreserved": True,
            },
            409,
            "insufficient_stock",
        ),
        (
            "/v1/pos-sales",
            {"orderId": "P1", "facilityId": "FACILITY_1", "items": []},
            422,
            "validation_failed",
        ),
        (
            "/v1/pos-sales",
            {
                "orderId": "P1",
                "facilityId": "FACILITY_1",
                "items": [{"orderItemSeqId": "1", "productId": "FG001", "quantity": 1e300}],
            },
            422,
            "validation_failed",
        ),
        (
            "/v1/pos-sales",
            {
                "orderId": "P1",
                "facilityId": "FACILITY_1",
                "items": [{"orderItemSeqId": "1", "productId": "FG001", "quantity": 32}],
            },
            409,
            "insufficient_stock",
        ),
        (
            "/v1/pos-sales",
            {
                "orderId": "P1",
                "facilityId": "NOWHERE",
                "items": [{"orderItemSeqId": "1", "productId": "FG001", "quantity": 1}],
            },
            404,
            "not_found",
        ),
    ],
)
def test_bad_input_is_a_problem_and_changes_nothing(
    seeded_client: TestClient, seeded: Database, path: str, payload: Any, status: int, code: str
) -> None:
    assert seeded_client.post("/v1/shipments", json=shipment("SH0")).status_code == 201
    before = snapshot(seeded)
    problem(seeded_client.post(path, json=payload), status, code)
    assert snapshot(seeded) == before
    assert seeded_client.get("/v1/shipments/SH0").json()["statusId"] == "SHIPMENT_INPUT"


@pytest.mark.parametrize(
    "payload",
    [{}, {"statusId": "SHIPMENT_SHIPPED"}, {"statusId": "SHIPMENT_INPUT"}, {"carrierPartyId": ""}],
)
def test_bad_patches_are_422(seeded_client: TestClient, seeded: Database, payload: dict[str, Any]) -> None:
    assert seeded_client.post("/v1/shipments", json=shipment()).status_code == 201
    before = seeded_client.get("/v1/shipments/SH1").json()
    problem(seeded_client.patch("/v1/shipments/SH1", json=payload), 422, "validation_failed")
    assert seeded_client.get("/v1/shipments/SH1").json() == before


def test_a_pos_sale_over_http(seeded_client: TestClient, seeded: Database) -> None:
    response = seeded_client.post(
        "/v1/pos-sales",
        json={
            "orderId": "P1",
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "1", "productId": "FG003", "quantity": 2}],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["statusId"] == "SHIPMENT_SHIPPED"
    assert body["totalCogs"] == 17.5  # 2 × 8.75
    shipment_view = seeded_client.get(f"/v1/shipments/{body['shipmentId']}").json()
    assert shipment_view["statusId"] == "SHIPMENT_SHIPPED"
    assert shipment_view["items"][0]["orderId"] == "P1"


def test_the_costing_method_of_a_facility(seeded_client: TestClient) -> None:
    response = seeded_client.patch("/v1/facilities/FACILITY_1", json={"costingMethodId": "LIFO"})
    assert response.status_code == 200, response.text
    assert response.json() == {"facilityId": "FACILITY_1", "costingMethodId": "LIFO"}
    assert seeded_client.get("/v1/facilities/FACILITY_1").json()["costingMethodId"] == "LIFO"
    problem(
        seeded_client.patch("/v1/facilities/FACILITY_1", json={"costingMethodId": "HIFO"}),
        422,
        "validation_failed",
    )
    problem(seeded_client.patch("/v1/facilities/NOWHERE", json={"costingMethodId": "FIFO"}), 404, "not_found")
    assert seeded_client.get("/v1/facilities/FACILITY_1").json()["costingMethodId"] == "LIFO"
