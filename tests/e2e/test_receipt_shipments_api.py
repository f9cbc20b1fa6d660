"""What a receipt may name (both databases): a purchase shipment, received in one facility, and
a rejection reason from the closed list exactly when units are rejected.

Every shipment this ledger holds is a sales shipment: a receipt against one is 409 `conflict`
(another facility's, to a token outside it: 403 naming nothing). Shipment ids are global, so a
purchase shipment received in one facility is refused in another (409, or 403 to a token outside
the first). Rejection reasons: an unknown one, one with nothing rejected, rejected units without
one: 422 `validation_failed` naming `rejectionReasonId`. Nothing is written by any refusal."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.e2e.test_shipping_api import problem, shipment
from tests.scope_support import bearer, second_facility
from tests.shipping_support import snapshot

F1, F2 = "FACILITY_1", "FACILITY_2"


def _receipt(shipment_id: str, facility_id: str = F1, **line: Any) -> dict[str, Any]:
    item = {"shipmentItemSeqId": "00001", "productId": "FG002", "quantityAccepted": 1, **line}
    return {"shipmentId": shipment_id, "facilityId": facility_id, "items": [item]}


def test_a_receipt_against_a_sales_shipment_is_a_409(seeded_client: TestClient, seeded: Database) -> None:
    assert seeded_client.post("/v1/shipments", json=shipment("SH-OUT")).status_code == 201
    sale = {
        "orderId": "POS-1",
        "facilityId": F1,
        "items": [{"orderItemSeqId": "00001", "productId": "FG001", "quantity": 1}],
    }
    sold = seeded_client.post("/v1/pos-sales", json=sale)
    assert sold.status_code == 201, sold.text
    shipped = sold.json()["shipmentId"]  # created and shipped at once
    before = snapshot(seeded)
    for sid in ("SH-OUT", shipped):
        refused = problem(seeded_client.post("/v1/receipts", json=_receipt(sid)), 409, "conflict")
        assert refused["detail"] == (
            f"Shipment {sid} is a sales shipment of facility {F1}: a receipt names a purchase shipment"
        )
        assert refused["shipmentId"] == sid
    assert snapshot(seeded) == before


def test_a_purchase_shipment_is_received_in_one_facility(seeded_client: TestClient, seeded: Database) -> None:
    second_facility(seeded)
    first = seeded_client.post("/v1/receipts", json=_receipt("PO-ONE"))
    assert first.status_code == 201, first.text
    before = snapshot(seeded)
    elsewhere = _receipt("PO-ONE", F2, shipmentItemSeqId="00002")
    for headers in ({}, bearer(seeded, "admin", [F1, F2])):  # may see both: told where it went
        refused = problem(
            seeded_client.post("/v1/receipts", json=elsewhere, headers=headers), 409, "conflict"
        )
        assert refused["detail"] == (
            f"Shipment PO-ONE was received in facility {F1}: a purchase shipment is received in one "
            f"facility, not also in {F2}"
        )
    outside = seeded_client.post("/v1/receipts", json=elsewhere, headers=bearer(seeded, "store", [F2]))
    assert problem(outside, 403, "forbidden")["detail"] == "This token may not act on shipment PO-ONE"
    assert F1 not in outside.text
    assert snapshot(seeded) == before
    more = seeded_client.post("/v1/receipts", json=_receipt("PO-ONE", shipmentItemSeqId="00002"))
    assert more.status_code == 201, more.text  # its own facility: another line of it is fine


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"quantityRejected": 1, "rejectionReasonId": "SRJ_BROKEN"},
            "rejectionReasonId must be one of SRJ_DAMAGED, SRJ_NOT_ORDERED, SRJ_OVER_SHIPPED, SRJ_EXPIRED",
        ),
        ({"rejectionReasonId": "SRJ_DAMAGED"}, "a rejectionReasonId needs quantityRejected above 0"),
        ({"quantityRejected": 0, "rejectionReasonId": "SRJ_DAMAGED"}, None),
        ({"quantityRejected": 2}, "rejected units need a rejectionReasonId"),
        ({"quantityRejected": 2, "rejectionReasonId": None}, "rejected units need a rejectionReasonId"),
    ],
)
def test_rejection_reasons_are_checked(
    seeded_client: TestClient, seeded: Database, line: dict[str, Any], message: str | None
) -> None:
    before = snapshot(seeded)
    refused = problem(
        seeded_client.post("/v1/receipts", json=_receipt("PO-R", **line)), 422, "validation_failed"
    )
    (error,) = refused["errors"]
    assert error["loc"] == ["body", "items", 0, "rejectionReasonId"]  # as the client spells it
    assert error["msg"] == "Value error, " + (message or "a rejectionReasonId needs quantityRejected above 0")
    assert snapshot(seeded) == before
    good = seeded_client.post(
        "/v1/receipts", json=_receipt("PO-R", quantityRejected=2, rejectionReasonId="SRJ_OVER_SHIPPED")
    )
    assert good.status_code == 201, good.text
    receipt_id = good.json()["items"][0]["receiptId"]
    stored = seeded_client.get(f"/v1/receipts/{receipt_id}").json()
    assert (stored["quantityRejected"], stored["rejectionReasonId"]) == (2, "SRJ_OVER_SHIPPED")
