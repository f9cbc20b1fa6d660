"""POST /v1/physical-inventories and /v1/variances over HTTP, with refusals that change nothing."""

from typing import Any

from fastapi.testclient import TestClient

from tests.seeds import seed_json_documents


def _item(client: TestClient, item_id: str) -> tuple[Any, Any, int]:
    body = client.get(f"/v1/inventory-items/{item_id}").json()
    details = client.get(f"/v1/inventory-items/{item_id}/details").json()["items"]
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"], len(details)


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_a_count_over_http_then_sent_again(seeded_client: TestClient) -> None:
    count = {
        "physicalInventoryId": "PI_HTTP",
        "facilityId": "FACILITY_1",
        "generalComments": "aisle 3",
        "counts": [{"inventoryItemId": "FG003-INV-001", "quantityCounted": 30.5}],
    }
    response = seeded_client.post("/v1/physical-inventories", json=count)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["alreadyRecorded"] is False
    (variance,) = body["variances"]
    assert (
        variance["quantityOnHandVar"],
        variance["availableToPromiseVar"],
        variance["varianceReasonId"],
    ) == (
        -4.5,
        -4.5,
        "VAR_LOST",
    )
    assert _item(seeded_client, "FG003-INV-001") == (30.5, 30.5, 2)
    details = seeded_client.get("/v1/inventory-items/FG003-INV-001/details").json()["items"]
    assert (details[-1]["physicalInventoryId"], details[-1]["reasonEnumId"]) == ("PI_HTTP", "VAR_LOST")
    again = seeded_client.post("/v1/physical-inventories", json=count)
    assert again.status_code == 200
    assert again.json()["alreadyRecorded"] is True
    assert _item(seeded_client, "FG003-INV-001") == (30.5, 30.5, 2)
    count["counts"] = [{"inventoryItemId": "FG003-INV-001", "quantityCounted": 31}]
    _refused(seeded_client.post("/v1/physical-inventories", json=count), 409, "conflict")


def test_the_seed_physical_inventory_document_is_loaded_as_it_stands(seeded_client: TestClient) -> None:
    (pi,) = [
        doc for _, doc in seed_json_documents() if isinstance(doc, dict) and "inventoryItemVariances" in doc
    ]
    response = seeded_client.post("/v1/physical-inventories", json=pi)
    assert response.status_code == 200, response.text
    assert response.json()["ledgerRowsWritten"] == 0  # the seeded database has it already
    assert _item(seeded_client, "FG001-INV-001")[:2] == (13, 13)


def test_bad_counts_are_refused_and_change_nothing(seeded_client: TestClient) -> None:
    before = _item(seeded_client, "FG001-INV-001")
    base = {"physicalInventoryId": "PI_BAD", "facilityId": "FACILITY_1"}
    bad = [
        ({**base, "counts": [{"productId": "FG001", "quantityCounted": -1}]}, 422, "validation_failed"),
        ({**base, "counts": [{"productId": "FG001", "quantityCounted": "NaN"}]}, 422, "validation_failed"),
        ({**base, "counts": []}, 422, "validation_failed"),
        (
            {**base, "counts": [{"productId": "FG001", "quantityCounted": 2, "varianceReasonId": "NOPE"}]},
            404,
            "not_found",
        ),
        (
            {**base, "facilityId": "NOWHERE", "counts": [{"productId": "FG001", "quantityCounted": 2}]},
            404,
            "not_found",
        ),
    ]
    for body, status, code in bad:
        _refused(seeded_client.post("/v1/physical-inventories", json=body), status, code)
    assert _item(seeded_client, "FG001-INV-001") == before


def test_a_variance_over_http(seeded_client: TestClient) -> None:
    response = seeded_client.post(
        "/v1/variances",
        json={
            "facilityId": "FACILITY_1",
            "productId": "FG002",
            "quantity": -1,
            "varianceReasonId": "VAR_STOLEN",
            "comments": "gone",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    token_id = seeded_client.headers["Authorization"].split("_")[1]  # the token's user: by default its id
    assert (body["inventoryItemId"], body["quantityOnHandTotal"], body["changeByUserLoginId"]) == (
        "FG002-INV-001",
        21,
        token_id,
    )
    last = seeded_client.get("/v1/inventory-items/FG002-INV-001/details").json()["items"][-1]
    assert (last["reasonEnumId"], last["description"], last["changeByUserLoginId"]) == (
        "VAR_STOLEN",
        "gone",
        token_id,
    )


def test_bad_variances_are_refused_and_change_nothing(seeded_client: TestClient) -> None:
    before = _item(seeded_client, "FG002-INV-001")
    item = {"inventoryItemId": "FG002-INV-001", "varianceReasonId": "VAR_FOUND"}
    bad = [
        ({**item, "quantity": 1, "varianceReasonId": "VAR_UNKNOWN"}, 404, "not_found"),
        ({**item, "quantity": 0}, 422, "validation_failed"),
        ({**item, "quantity": "Infinity"}, 422, "validation_failed"),
        ({"varianceReasonId": "VAR_FOUND", "quantity": 1}, 422, "validation_failed"),
        ({**item, "inventoryItemId": "NOPE", "quantity": 1}, 404, "not_found"),
    ]
    for body, status, code in bad:
        _refused(seeded_client.post("/v1/variances", json=body), status, code)
    assert _item(seeded_client, "FG002-INV-001") == before


def test_a_variance_below_zero_needs_allow_negative(seeded_client: TestClient) -> None:
    before = _item(seeded_client, "FG002-INV-001")
    body = {"inventoryItemId": "FG002-INV-001", "quantity": -500, "varianceReasonId": "VAR_LOST"}
    refused = seeded_client.post("/v1/variances", json=body)
    _refused(refused, 409, "negative_stock")
    assert (refused.json()["retryWith"], refused.json()["quantityOnHandTotal"]) == ("allowNegative", 22)
    assert _item(seeded_client, "FG002-INV-001") == before
    allowed = seeded_client.post("/v1/variances", json={**body, "allowNegative": True})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["quantityOnHandTotal"] == -478
    assert _item(seeded_client, "FG002-INV-001") == (-478, -478, before[2] + 1)
