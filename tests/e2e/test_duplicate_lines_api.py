"""Two lines with the same id (issue 20, L12): a reservation of an order, a POS sale and a shipment
answer the same problem, 422 validation_failed with `errors: [{loc, msg, type}]` and a msg staff
can read (reserve had no `errors`, the others quoted pydantic's "Value error, …"); nothing applied."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_shipping_api import problem

FAC = "FACILITY_1"


def _line(seq: str, product: str = "FG001", **more: Any) -> dict[str, Any]:
    return {"orderItemSeqId": seq, "productId": product, "quantity": 1, **more}


CASES = {
    "reserve": (
        "/v1/orders/ORD_D/reserve",
        {"facilityId": FAC, "items": [_line("10"), _line("20", "FG002"), _line("10", "FG003")]},
        "orderItemSeqId 10 appears twice: on lines 1 and 3",
    ),
    "pos_sale": (
        "/v1/pos-sales",
        {"orderId": "POS_D", "facilityId": FAC, "items": [_line("10"), _line("10", "FG002")]},
        "orderItemSeqId 10 appears twice: on lines 1 and 2",
    ),
    "shipment": (
        "/v1/shipments",
        {
            "shipmentId": "SH_D",
            "primaryOrderId": "ORD_D",
            "originFacilityId": FAC,
            "items": [_line("1", shipmentItemSeqId="01"), _line("2", "FG002", shipmentItemSeqId="01")],
        },
        "shipmentItemSeqId 01 appears twice: on lines 1 and 2",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_repeated_line_id_is_one_shape_of_refusal(seeded_client: TestClient, case: str) -> None:
    path, body, msg = CASES[case]
    before = seeded_client.get("/v1/availability", params={"facilityId": FAC, "productId": "FG001"}).json()
    refused = problem(seeded_client.post(path, json=body), 422, "validation_failed")
    assert refused["errors"] == [{"loc": ["body", "items"], "msg": msg, "type": "duplicate_line"}]
    assert refused["errorCount"] == 1
    assert refused["detail"] == f"body.items: {msg}"
    after = seeded_client.get("/v1/availability", params={"facilityId": FAC, "productId": "FG001"}).json()
    assert after == before
    problem(seeded_client.get("/v1/shipments/SH_D"), 404, "not_found")


def test_repeated_route_segments_are_named_alike(seeded_client: TestClient) -> None:
    body = {
        "primaryOrderId": "ORD_D",
        "originFacilityId": FAC,
        "items": [_line("1", shipmentItemSeqId="01")],
        "routeSegments": [{"shipmentRouteSegmentId": "S1"}, {"shipmentRouteSegmentId": "S1"}],
    }
    refused = problem(seeded_client.post("/v1/shipments", json=body), 422, "validation_failed")
    assert refused["errors"] == [
        {
            "loc": ["body", "routeSegments"],
            "msg": "shipmentRouteSegmentId S1 appears twice: on lines 1 and 2",
            "type": "duplicate_line",
        }
    ]
