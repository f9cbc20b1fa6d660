"""Returns and inventory increases over HTTP; bad input is a 4xx problem that changes nothing."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.e2e.test_shipping_api import problem
from tests.shipping_support import product_totals, snapshot


def a_return(return_id: str = "RET1", **item: Any) -> dict[str, Any]:
    line = {"returnItemSeqId": "1", "orderItemSeqId": "1", "productId": "FG002", "returnQuantity": 2, **item}
    return {"returnId": return_id, "orderId": "P1", "facilityId": "FACILITY_1", "items": [line]}


SALE = {
    "orderId": "P1",
    "facilityId": "FACILITY_1",
    "items": [{"orderItemSeqId": "1", "productId": "FG002", "quantity": 3}],
}


def test_return_then_inspect_over_http(seeded_client: TestClient, seeded: Database) -> None:
    assert seeded_client.post("/v1/pos-sales", json=SALE).status_code == 201
    before = product_totals(seeded, "FG002")
    created = seeded_client.post("/v1/returns", json=a_return(receivedCondition="SEALED"))
    assert created.status_code == 201, created.text
    item = created.json()["items"][0]
    assert (
        item["inventoryItemStatusId"],
        item["statusId"],
        item["returnCost"],
        item["receivedCondition"],
    ) == (
        "INV_RETURNED",
        "RETURN_RECEIVED",
        12,  # 3 × 12.00 / 3
        "SEALED",
    )
    assert product_totals(seeded, "FG002") == (before[0] + 2, before[1])
    inspected = seeded_client.post("/v1/returns/RET1/items/1/inspect", json={"outcome": "AVAILABLE"})
    assert inspected.status_code == 200, inspected.text
    assert inspected.json()["items"][0]["statusId"] == "RETURN_COMPLETED"
    assert product_totals(seeded, "FG002") == (before[0] + 2, before[1] + 2)
    assert inspected.json()["inspectedQuantity"] == 2
    assert {**seeded_client.get("/v1/returns/RET1").json(), "inspectedQuantity": 2} == inspected.json()
    assert inspected.json()["statusId"] == "RETURN_COMPLETED"
    assert inspected.json()["items"][0]["inventoryItemStatusId"] == "INV_AVAILABLE"
    again = snapshot(seeded)
    problem(
        seeded_client.post("/v1/returns/RET1/items/1/inspect", json={"outcome": "DEFECTIVE"}), 409, "conflict"
    )
    assert snapshot(seeded) == again


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        ("/v1/returns", a_return(returnQuantity=0), 422, "validation_failed"),
        ("/v1/returns", a_return(returnQuantity="-1"), 422, "validation_failed"),
        ("/v1/returns", a_return(returnQuantity="Infinity"), 422, "validation_failed"),
        ("/v1/returns", a_return(returnQuantity="0.0000001"), 422, "validation_failed"),
        ("/v1/returns", {**a_return(), "items": []}, 422, "validation_failed"),
        ("/v1/returns", {**a_return(), "items": a_return()["items"] * 2}, 422, "validation_failed"),
        ("/v1/returns", a_return(productId="NOPE"), 404, "not_found"),
        ("/v1/returns", a_return("RET0"), 409, "conflict"),
        ("/v1/returns", a_return("RET2"), 409, "return_exceeds_shipped"),  # 3 sold, 2 back already
        ("/v1/returns", a_return("RET2", orderItemSeqId=None), 409, "return_exceeds_shipped"),
        ("/v1/returns", a_return("RET2", productId="FG001"), 409, "order_item_conflict"),  # it is FG002's
        ("/v1/returns", a_return("RET2", productId="FG001", orderItemSeqId=None), 409, "not_shipped"),
        ("/v1/returns", a_return("RET2", orderItemSeqId="2"), 409, "not_shipped"),
        ("/v1/returns", {**a_return("RET2"), "orderId": "NEVER_SHIPPED"}, 409, "not_shipped"),
        ("/v1/returns/RET0/items/1/inspect", {"outcome": "MAYBE"}, 422, "validation_failed"),
        ("/v1/returns/RET0/items/9/inspect", {"outcome": "AVAILABLE"}, 404, "not_found"),
        ("/v1/returns/NOPE/items/1/inspect", {"outcome": "AVAILABLE"}, 404, "not_found"),
        ("/v1/inventory-increases", {"facilityId": "FACILITY_1", "quantity": 1}, 422, "validation_failed"),
        (
            "/v1/inventory-increases",
            {"facilityId": "FACILITY_1", "productId": "FG001", "quantity": 0},
            422,
            "validation_failed",
        ),
        (
            "/v1/inventory-increases",
            {"facilityId": "FACILITY_1", "productId": "FG001", "quantity": -2},
            422,
            "validation_failed",
        ),
        (
            "/v1/inventory-increases",
            {"facilityId": "FACILITY_1", "productId": "NOPE", "quantity": 1},
            404,
            "not_found",
        ),
        (
            "/v1/inventory-increases",
            {
                "facilityId": "FACILITY_1",
                "inventoryItemId": "FG001-INV-001",
                "productId": "FG002",
                "quantity": 1,
            },
            409,
            "conflict",
        ),
    ],
)
def test_bad_input_is_a_problem_and_changes_nothing(
    seeded_client: TestClient, seeded: Database, path: str, payload: Any, status: int, code: str
) -> None:
    assert seeded_client.post("/v1/pos-sales", json=SALE).status_code == 201
    assert seeded_client.post("/v1/returns", json=a_return("RET0")).status_code == 201
    before = snapshot(seeded)
    problem(seeded_client.post(path, json=payload), status, code)
    assert snapshot(seeded) == before


def test_an_increase_over_http(seeded_client: TestClient) -> None:
    response = seeded_client.post(
        "/v1/inventory-increases",
        json={
            "facilityId": "FACILITY_1",
            "productId": "FG001",
            "quantity": 2,
            "orderId": "O1",
            "orderItemSeqId": "1",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["inventoryItemId"], body["quantityOnHandTotal"], body["availableToPromiseTotal"]) == (
        "FG001-INV-001",
        15,
        15,
    )
    rows = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()["items"]
    assert (rows[-1]["orderId"], rows[-1]["quantityOnHandDiff"], rows[-1]["availableToPromiseDiff"]) == (
        "O1",
        2,
        2,
    )


def test_inspection_moves_the_atp_a_count_gave_the_returned_item(
    seeded_client: TestClient, seeded: Database
) -> None:
    """Returned item QOH 1, ATP 0; counted by item at 1 (ATP 1); inspected AVAILABLE: it is left
    empty (QOH 0, ATP 0), not with ATP 1 on no stock, and the unit is sellable once."""
    assert seeded_client.post("/v1/pos-sales", json=SALE).status_code == 201
    created = seeded_client.post("/v1/returns", json=a_return(returnQuantity=1))
    assert created.status_code == 201, created.text
    returned_id = created.json()["items"][0]["inventoryItemId"]
    count = {
        "physicalInventoryId": "PI_RET",
        "facilityId": "FACILITY_1",
        "counts": [{"inventoryItemId": returned_id, "quantityCounted": 1}],
    }
    assert seeded_client.post("/v1/physical-inventories", json=count).status_code == 200
    before, promisable = product_totals(seeded, "FG002"), _promisable(seeded_client)
    inspected = seeded_client.post("/v1/returns/RET1/items/1/inspect", json={"outcome": "AVAILABLE"})
    assert inspected.status_code == 200, inspected.text
    item = seeded_client.get(f"/v1/inventory-items/{returned_id}").json()
    assert (item["quantityOnHandTotal"], item["availableToPromiseTotal"]) == (0, 0)
    assert product_totals(seeded, "FG002") == before  # the unit and its ATP moved, none added
    assert _promisable(seeded_client) == promisable + 1


def _promisable(client: TestClient) -> Any:
    return client.get("/v1/availability?facilityId=FACILITY_1&productId=FG002").json()[
        "availableToPromiseTotal"
    ]
