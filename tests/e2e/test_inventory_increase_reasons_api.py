"""POST /v1/inventory-increases takes only the reasons an increase may have (issue 20 F4), over HTTP
on both databases: a system reason (RESERVATION, VAR_EXT_RESET) or one that lowers stock is a 422
naming reasonEnumId that changes nothing; an order or shipment this ledger does not hold is stored
as a free reference."""

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.returns.schemas import INCREASE_REASON_IDS
from tests.e2e.test_shipping_api import problem
from tests.shipping_support import snapshot

INCREASE = {"facilityId": "FACILITY_1", "productId": "FG001", "quantity": 1}


@pytest.mark.parametrize("reason", ["RESERVATION", "VAR_EXT_RESET", "VAR_LOST", "INV_RECEIPT", "NOPE"])
def test_a_reason_an_increase_may_not_have_is_refused_at_its_field(
    seeded_client: TestClient, seeded: Database, reason: str
) -> None:
    before = snapshot(seeded)
    body = problem(
        seeded_client.post("/v1/inventory-increases", json={**INCREASE, "reasonEnumId": reason}),
        422,
        "validation_failed",
    )
    (error,) = body["errors"]
    assert error["loc"] == ["body", "reasonEnumId"]
    assert error["msg"] == f"Value error, reasonEnumId must be one of {', '.join(INCREASE_REASON_IDS)}"
    assert snapshot(seeded) == before


def test_each_increase_reason_is_taken_and_named_in_the_history(seeded_client: TestClient) -> None:
    assert INCREASE_REASON_IDS == (
        "INV_INCREASE",
        "VAR_FOUND",
        "VAR_INTEGR",
        "VAR_MISSHIP_ORDERED",
        "RETURN_RESTOCKED",
    )
    for reason in INCREASE_REASON_IDS:
        sent = seeded_client.post("/v1/inventory-increases", json={**INCREASE, "reasonEnumId": reason})
        assert sent.status_code == 201, sent.text
    rows = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()["items"]
    assert [r["reasonEnumId"] for r in rows[-5:]] == list(INCREASE_REASON_IDS)
    default = seeded_client.post("/v1/inventory-increases", json=INCREASE)
    assert default.status_code == 201
    rows = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()["items"]
    assert rows[-1]["reasonEnumId"] == "INV_INCREASE"


def test_an_order_or_shipment_the_ledger_does_not_hold_is_a_free_reference(seeded_client: TestClient) -> None:
    sent = {**INCREASE, "orderId": "OMS-77", "orderItemSeqId": "00001", "shipmentId": "PO-ELSEWHERE"}
    response = seeded_client.post("/v1/inventory-increases", json=sent)
    assert response.status_code == 201, response.text
    rows = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()["items"]
    assert (rows[-1]["orderId"], rows[-1]["orderItemSeqId"], rows[-1]["shipmentId"]) == (
        "OMS-77",
        "00001",
        "PO-ELSEWHERE",
    )
