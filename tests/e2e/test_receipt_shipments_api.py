"""What a receipt may name (both databases): a purchase shipment, not a sales shipment of this
ledger, and a rejection reason from the closed list exactly when units are rejected.

Every shipment this ledger holds is a sales shipment: a receipt against one is 409 `conflict`
(another facility's, to a token outside it: 403 naming nothing). A purchase shipment id is the
facility's own (receipts are keyed per facility). Rejection reasons: an unknown one, one with
nothing rejected, rejected units without one: 422 `validation_failed` naming `rejectionReasonId`.
Nothing is written by any refusal."""

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


def test_a_purchase_shipment_id_is_the_facilitys_own(seeded_client: TestClient, seeded: Database) -> None:
    """Receipts are keyed per facility (SPEC §9): the same purchase shipment id received in another
    facility is that facility's own first receipt, and tells its token nothing of the other."""
    second_facility(seeded)
    first = seeded_client.post("/v1/receipts", json=_receipt("PO-ONE"))
    assert first.status_code == 201, first.text
    scoped = bearer(seeded, "store", [F2])
    there = seeded_client.post("/v1/receipts", json=_receipt("PO-ONE", F2), headers=scoped)
    assert there.status_code == 201, there.text
    assert F1 not in there.text
    again = seeded_client.post("/v1/receipts", json=_receipt("PO-ONE", F2), headers=scoped)
    assert problem(again, 409, "already_received")["quantityAccepted"] == 1  # F2's line only
    assert F1 not in again.text
    here = seeded_client.post("/v1/receipts", json=_receipt("PO-ONE"))
    assert problem(here, 409, "already_received")["quantityAccepted"] == 1  # F1's line only


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
