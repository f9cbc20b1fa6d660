"""Inspection acts on what the returned item still holds: a count that found the returned units
lost (or fewer) bounds what AVAILABLE moves and what DEFECTIVE marks, never a negative item."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.e2e.test_returns_api import SALE, a_return
from tests.e2e.test_shipping_api import problem
from tests.shipping_support import events, product_totals


def _item(client: TestClient, item_id: str) -> tuple[Any, Any, str]:
    body = client.get(f"/v1/inventory-items/{item_id}").json()
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"], body["statusId"]


def _availability(client: TestClient) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/v1/availability?facilityId=FACILITY_1&productId=FG002").json()
    return answer


def _returned_and_counted(client: TestClient, counted: int) -> str:
    """Order P1 sold 3 FG002; 3 come back into a returned item, which a count then finds at
    `counted` (VAR_LOST). The returned item's id."""
    assert client.post("/v1/pos-sales", json=SALE).status_code == 201
    created = client.post("/v1/returns", json=a_return(returnQuantity=3, receivedCondition="ok"))
    assert created.status_code == 201, created.text
    returned_id: str = created.json()["items"][0]["inventoryItemId"]
    line = {"inventoryItemId": returned_id, "quantityCounted": counted, "varianceReasonId": "VAR_LOST"}
    count = client.post(
        "/v1/physical-inventories",
        json={"physicalInventoryId": "PI_LOST", "facilityId": "FACILITY_1", "counts": [line]},
    )
    assert count.status_code == 200, count.text
    assert _item(client, returned_id) == (counted, counted, "INV_RETURNED")
    return returned_id


def _inspect(client: TestClient, outcome: str) -> dict[str, Any]:
    inspected = client.post("/v1/returns/RET1/items/1/inspect", json={"outcome": outcome})
    assert inspected.status_code == 200, inspected.text
    body: dict[str, Any] = inspected.json()
    assert (body["statusId"], body["items"][0]["statusId"]) == ("RETURN_COMPLETED", "RETURN_COMPLETED")
    return body


def test_inspecting_units_counted_lost_moves_nothing(seeded_client: TestClient, seeded: Database) -> None:
    returned_id = _returned_and_counted(seeded_client, 0)
    before, availability = product_totals(seeded, "FG002"), _availability(seeded_client)
    body = _inspect(seeded_client, "AVAILABLE")
    assert body["inspectedQuantity"] == 0
    assert body["items"][0]["inventoryItemId"] == returned_id  # nothing went to the sellable item
    assert _item(seeded_client, returned_id) == (0, 0, "INV_RETURNED")
    assert product_totals(seeded, "FG002") == before
    after = _availability(seeded_client)
    assert after == availability
    assert after["availableToPromiseTotal"] <= after["quantityOnHandTotal"]
    assert after["notPromisable"]["returned"] == 0
    assert events(seeded, "InventoryChanged")[-1]["quantity"] == 0
    order = {
        "facilityId": "FACILITY_1",
        "items": [
            {"orderItemSeqId": "1", "productId": "FG002", "quantity": after["availableToPromiseTotal"] + 1}
        ],
    }
    problem(seeded_client.post("/v1/orders/OVERSELL/reserve", json=order), 409, "insufficient_stock")


def test_inspecting_fewer_units_than_returned_moves_only_those(
    seeded_client: TestClient, seeded: Database
) -> None:
    returned_id = _returned_and_counted(seeded_client, 1)
    before, promisable = (
        product_totals(seeded, "FG002"),
        _availability(seeded_client)["availableToPromiseTotal"],
    )
    body = _inspect(seeded_client, "AVAILABLE")
    assert body["inspectedQuantity"] == 1
    assert body["items"][0]["inventoryItemStatusId"] == "INV_AVAILABLE"
    assert _item(seeded_client, returned_id) == (0, 0, "INV_RETURNED")
    assert product_totals(seeded, "FG002") == before  # the unit and its ATP moved, none added
    after = _availability(seeded_client)
    assert (after["availableToPromiseTotal"], after["notPromisable"]["returned"]) == (promisable + 1, 0)
    assert events(seeded, "InventoryChanged")[-1]["quantity"] == 1


@pytest.mark.parametrize(("counted", "marked"), [(0, 0), (2, 2)])
def test_defective_is_bounded_the_same_way(
    seeded_client: TestClient, seeded: Database, counted: int, marked: int
) -> None:
    returned_id = _returned_and_counted(seeded_client, counted)
    before = product_totals(seeded, "FG002")
    body = _inspect(seeded_client, "DEFECTIVE")
    assert body["inspectedQuantity"] == marked
    assert _item(seeded_client, returned_id) == (counted, counted, "INV_DEFECTIVE")
    assert product_totals(seeded, "FG002") == before
    after = _availability(seeded_client)
    assert (after["notPromisable"]["returned"], after["notPromisable"]["defective"]) == (0, counted)
    assert events(seeded, "InventoryChanged")[-1]["quantity"] == marked
