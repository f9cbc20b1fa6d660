"""A return inspected AVAILABLE is sellable: its units go to a promisable item (SPEC §11), not to a
facility item that is on hold (found by an outside tester: the units landed on the held item, ATP
unchanged). As stock added by productId does: the oldest promisable item, else a new one."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

PRODUCT = "TKRH"


def _post(client: TestClient, path: str, body: Any, status: int = 200) -> Any:
    answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


def _item(item_id: str, quantity: int, status: str = "INV_AVAILABLE") -> dict[str, Any]:
    detail = {
        "inventoryItemDetailSeqId": "1",
        "quantityOnHandDiff": quantity,
        "availableToPromiseDiff": quantity,
    }
    return {
        "inventoryItemId": item_id,
        "productId": PRODUCT,
        "facilityId": "FACILITY_1",
        "statusId": status,
        "quantityOnHandTotal": quantity,
        "availableToPromiseTotal": quantity,
        "inventoryItemDetails": [detail],
    }


def _sold_and_returned(client: TestClient, items: list[dict[str, Any]]) -> dict[str, Any]:
    """PRODUCT with `items`; 2 sold at the POS and returned; the return's inspection answer."""
    _post(
        client,
        "/v1/import",
        {"facilityId": "FACILITY_1", "products": [{"productId": PRODUCT, "productName": "x"}]},
    )
    _post(client, "/v1/import", items)
    sale = {
        "orderId": "POS-TKRH",
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": PRODUCT, "quantity": 2}],
    }
    _post(client, "/v1/pos-sales", sale, 201)
    line = {"returnItemSeqId": "1", "orderItemSeqId": "00001", "productId": PRODUCT, "returnQuantity": 2}
    ret = {"returnId": "RT-TKRH", "orderId": "POS-TKRH", "facilityId": "FACILITY_1", "items": [line]}
    _post(client, "/v1/returns", ret, 201)
    return dict(_post(client, "/v1/returns/RT-TKRH/items/1/inspect", {"outcome": "AVAILABLE"}))


def _availability(client: TestClient) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"/v1/availability?facilityId=FACILITY_1&productId={PRODUCT}").json()
    return answer


@pytest.mark.usefixtures("seeded")
def test_a_return_made_sellable_goes_to_the_sellable_item_not_the_held_one(client: TestClient) -> None:
    """The facility item is on hold (imported first), a sellable one sold the 2 units."""
    _sold_and_returned(client, [_item("TKRH-H", 5, "INV_ON_HOLD"), _item("TKRH-S", 5)])
    sellable = client.get("/v1/inventory-items/TKRH-S").json()
    assert (sellable["quantityOnHandTotal"], sellable["availableToPromiseTotal"]) == (5, 5)
    held = client.get("/v1/inventory-items/TKRH-H").json()
    assert (held["quantityOnHandTotal"], held["statusId"]) == (5, "INV_ON_HOLD")
    availability = _availability(client)
    assert availability["availableToPromiseTotal"] == 5
    assert availability["notPromisable"]["onHold"] == 5


@pytest.mark.usefixtures("seeded")
def test_a_return_made_sellable_without_a_sellable_item_gets_a_new_one(client: TestClient) -> None:
    """The only sellable item is put on hold after the sale: the returned units go to a new
    promisable item, which becomes the facility item."""
    _post(
        client,
        "/v1/import",
        {"facilityId": "FACILITY_1", "products": [{"productId": PRODUCT, "productName": "x"}]},
    )
    _post(client, "/v1/import", [_item("TKRH-S", 5)])
    sale = {
        "orderId": "POS-TKRH",
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": PRODUCT, "quantity": 2}],
    }
    _post(client, "/v1/pos-sales", sale, 201)
    _post(
        client,
        "/v1/import",
        [
            {
                "inventoryItemId": "TKRH-S",
                "productId": PRODUCT,
                "facilityId": "FACILITY_1",
                "statusId": "INV_ON_HOLD",
            }
        ],
    )
    line = {"returnItemSeqId": "1", "orderItemSeqId": "00001", "productId": PRODUCT, "returnQuantity": 2}
    ret = {"returnId": "RT-TKRH", "orderId": "POS-TKRH", "facilityId": "FACILITY_1", "items": [line]}
    _post(client, "/v1/returns", ret, 201)
    _post(client, "/v1/returns/RT-TKRH/items/1/inspect", {"outcome": "AVAILABLE"})
    availability = _availability(client)
    assert availability["availableToPromiseTotal"] == 2
    assert availability["notPromisable"]["onHold"] == 3
    facility = client.get(f"/v1/product-facility-inventory?facilityId=FACILITY_1&productId={PRODUCT}")
    assert facility.status_code == 200, facility.text
