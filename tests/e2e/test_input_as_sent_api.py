"""What a client sends is taken as sent or refused, never quietly changed (issue 17's outside tester):
an id with whitespace at an end is refused, not trimmed into another id (a body: 422 naming the
member; a reset line: `invalid_line`); a reset CSV line with a field more or fewer than its header
fails on its own line, naming its productId; a quantity with 7 decimals is refused everywhere."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

RESET = "/v1/external-inventory-resets"


def _qoh(client: TestClient, product: str) -> Any:
    params = {"facilityId": "FACILITY_1", "productId": product}
    return client.get("/v1/availability", params=params).json()["quantityOnHandTotal"]


def test_an_id_with_whitespace_at_an_end_is_refused_not_trimmed(seeded_client: TestClient) -> None:
    document = {"facilityId": "FX ", "facilityName": "X", "products": [{"productId": "PX"}]}
    answer = seeded_client.post("/v1/import", json=document)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"][-1] == "facilityId"
    assert seeded_client.get("/v1/facilities/FX").status_code == 404
    variance = {
        "facilityId": "FACILITY_1",
        "productId": " FG001",
        "quantity": 1,
        "varianceReasonId": "VAR_FOUND",
    }
    answer = seeded_client.post("/v1/variances", json=variance)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"][-1] == "productId"
    assert _qoh(seeded_client, "FG001") == 31


def test_a_reset_line_is_applied_as_sent_or_fails_on_its_own_line(seeded_client: TestClient) -> None:
    csv = (
        "facilityId,productId,quantityOnHand,availableToPromise\n"
        "FACILITY_1,FG001,40,,7\n"
        "FACILITY_1,FG001,41\n"
        "FACILITY_1,FG001 ,42,\n"
        "FACILITY_1,FG001,43.0000001,\n"
    )
    answer = seeded_client.post(RESET, content=csv.encode(), headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    failures = answer.json()["failures"]
    assert [(f["line"], f["code"], f["facilityId"], f["productId"]) for f in failures] == [
        (2, "invalid_line", "FACILITY_1", "FG001"),
        (3, "invalid_line", "FACILITY_1", "FG001"),
        (4, "invalid_line", "FACILITY_1", "FG001 "),
        (5, "invalid_quantity", "FACILITY_1", "FG001"),
    ]
    assert failures[0]["message"] == "has 5 fields, more than the header's 4: refused, not guessed at"
    lines = [
        {"facilityId": "FACILITY_1", "productId": "FG001\t", "quantityOnHand": 44},
        {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 45.0000001},
    ]
    answer = seeded_client.post(RESET, json={"lines": lines})
    assert answer.status_code == 200, answer.text
    assert [(f["line"], f["code"]) for f in answer.json()["failures"]] == [
        (1, "invalid_line"),
        (2, "invalid_quantity"),
    ]
    assert _qoh(seeded_client, "FG001") == 31


@pytest.mark.parametrize("quantity", ["1.0000001", "1.0000000000000000000001"])
def test_a_quantity_with_more_than_6_decimals_is_refused_by_every_write(
    seeded_client: TestClient, quantity: str
) -> None:
    """The JSON text itself (a float would have rounded the second to 1.0)."""
    bodies = {
        "/v1/variances": (
            '{"facilityId": "FACILITY_1", "productId": "FG001", "varianceReasonId": "VAR_FOUND", '
            f'"quantity": {quantity}}}',
            "quantity",
        ),
        "/v1/reservations": (
            '{"orderId": "OQ", "orderItemSeqId": "1", "facilityId": "FACILITY_1", "productId": "FG001", '
            f'"quantity": {quantity}}}',
            "quantity",
        ),
        "/v1/import": (
            '[{"inventoryItemId": "FG001-INV-001", "facilityId": "FACILITY_1", "productId": "FG001", '
            '"inventoryItemDetails": [{"inventoryItemDetailSeqId": "Q1", '
            f'"quantityOnHandDiff": {quantity}}}]}}]',
            "quantityOnHandDiff",
        ),
    }
    for path, (body, member) in bodies.items():
        answer = seeded_client.post(path, content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 422, (path, answer.text)
        assert member in str(answer.json()["errors"][0]["loc"]), (path, answer.text)
    assert _qoh(seeded_client, "FG001") == 31
