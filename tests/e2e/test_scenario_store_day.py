"""A day at Main Street Store: fourteen different inventory events on the seed demo data,
through the HTTP API, with every number worked out by hand. `verify` is clean at the end.

Start (stockledger demo = seeds 001 + PI_20240715), all INV_AVAILABLE, no expiry dates:
  FG001: FG001-INV-001 13 (received 07-10, the facility item), FG001-INV-002 18 (07-12) -> 31/31, min 10
  FG002: FG002-INV-001 22 (07-08, the facility item),          FG002-INV-002  9 (07-11) -> 31/31, min 15
  FG003: FG003-INV-001 35 (07-09, the facility item),          FG003-INV-002 27 (07-13) -> 62/62, min 20
(QOH/ATP per item are equal at the start.)
"""

from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stockledger.cli import app as cli

F = "FACILITY_1"


def _ok(response: Any, status: int) -> dict[str, Any]:
    """The JSON body of an answer with exactly `status` (201: something created; 200: the rest)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _avail(client: TestClient, product: str, as_of: str | None = None) -> tuple[float, float, float]:
    params = {"facilityId": F, "productId": product} | ({"asOf": as_of} if as_of else {})
    body = _ok(client.get("/v1/availability", params=params), 200)
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"], body["reservedQuantity"]


def _item(client: TestClient, item_id: str) -> tuple[float, float]:
    body = _ok(client.get(f"/v1/inventory-items/{item_id}"), 200)
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"]


def _last_detail(client: TestClient, item_id: str) -> dict[str, Any]:
    rows = []
    cursor = None
    while True:
        page = _ok(
            client.get(
                f"/v1/inventory-items/{item_id}/details",
                params={"limit": 1000} | ({"cursor": cursor} if cursor else {}),
            ),
            200,
        )
        rows += page["items"]
        cursor = page["next"]
        if cursor is None:
            return rows[-1]


def test_a_day_of_store_events(seeded_client: TestClient, db_url: str, monkeypatch: Any) -> None:
    c = seeded_client

    # 1. ERP reset: FG003 on hand should be 70. Current 35 + 27 = 62, so diff = +8 to both QOH
    #    and ATP of the facility item FG003-INV-001: 35 -> 43. FG003 = 70/70.
    reset = _ok(
        c.post(
            "/v1/external-inventory-resets",
            json={"lines": [{"facilityId": F, "productId": "FG003", "quantityOnHand": 70}]},
        ),
        200,
    )
    assert _item(c, "FG003-INV-001") == (43, 43)
    assert _avail(c, "FG003")[:2] == (70, 70)
    assert _last_detail(c, "FG003-INV-001")["inventoryResetId"] == reset["inventoryResetId"]

    # 2. Receipt: FG002, 10 accepted at 12.50, 2 rejected, no lot or location: facility item
    #    FG002-INV-001 22 -> 32 (QOH and ATP). FG002 = 32 + 9 = 41/41.
    _ok(
        c.post(
            "/v1/receipts",
            json={
                "shipmentId": "PO-1",
                "facilityId": F,
                "items": [
                    {
                        "shipmentItemSeqId": "00001",
                        "productId": "FG002",
                        "quantityAccepted": 10,
                        "quantityRejected": 2,
                        "rejectionReasonId": "SRJ_DAMAGED",
                        "unitCost": 12.5,
                    }
                ],
            },
        ),
        201,
    )
    assert _item(c, "FG002-INV-001") == (32, 32)
    assert _avail(c, "FG002") == (41, 41, 0)
    assert _last_detail(c, "FG002-INV-001")["shipmentId"] == "PO-1"

    # 3. Reservation O1/00001: 5 of FG002. FEFO without expiry: oldest received first, FG002-INV-001
    #    (07-08): ATP 32 -> 27. FG002 = QOH 41, ATP 36, reserved 5.
    _ok(
        c.post(
            "/v1/reservations",
            json={
                "orderId": "O1",
                "orderItemSeqId": "00001",
                "productId": "FG002",
                "facilityId": F,
                "quantity": 5,
            },
        ),
        201,
    )
    assert _item(c, "FG002-INV-001") == (32, 27)
    assert _avail(c, "FG002") == (41, 36, 5)

    # 4. Reservation O1/00002: 3 of FG001 from FG001-INV-001 (07-10): ATP 13 -> 10. FG001 = 31/28.
    _ok(
        c.post(
            "/v1/reservations",
            json={
                "orderId": "O1",
                "orderItemSeqId": "00002",
                "productId": "FG001",
                "facilityId": F,
                "quantity": 3,
            },
        ),
        201,
    )
    assert _avail(c, "FG001") == (31, 28, 3)

    # 5. Cancel O1/00002: ATP + 3 -> FG001 back to 31/31, nothing reserved.
    _ok(c.delete("/v1/reservations/O1/00002"), 200)
    assert _avail(c, "FG001") == (31, 31, 0)

    # 6. Reservation O2/00001: 4 of FG003 from FG003-INV-001 (07-09): ATP 43 -> 39. FG003 = 70/66.
    _ok(
        c.post(
            "/v1/reservations",
            json={
                "orderId": "O2",
                "orderItemSeqId": "00001",
                "productId": "FG003",
                "facilityId": F,
                "quantity": 4,
            },
        ),
        201,
    )
    assert _avail(c, "FG003") == (70, 66, 4)

    # 7. The store rejects O2/00001, ATP_QOH_ONE: release (ATP 39 + 4 = 43), then ATP - 1 and
    #    QOH - 1 (the unit is not there): FG003-INV-001 42/42. FG003 = 69/69.
    _ok(
        c.post(
            "/v1/orders/O2/items/00001/reject",
            json={"rejectionMode": "ATP_QOH_ONE", "rejectReasonId": "NOT_IN_STOCK"},
        ),
        200,
    )
    assert _item(c, "FG003-INV-001") == (42, 42)
    assert _avail(c, "FG003") == (69, 69, 0)
    rejected = _last_detail(c, "FG003-INV-001")
    assert (rejected["orderId"], rejected["orderItemSeqId"], rejected["quantityOnHandDiff"]) == (
        "O2",
        "00001",
        -1,
    )

    # 8. Cycle count by product: FG001 counted 29. Current QOH 13 + 18 = 31 -> diff -2 on the facility
    #    item FG001-INV-001 (13 -> 11); ATP target = 29 - 0 reserved = 29, current 31 -> -2 (13 -> 11).
    _ok(
        c.post(
            "/v1/physical-inventories",
            json={
                "physicalInventoryId": "PI-DAY",
                "facilityId": F,
                "counts": [{"productId": "FG001", "quantityCounted": 29}],
            },
        ),
        200,
    )
    assert _item(c, "FG001-INV-001") == (11, 11)
    assert _avail(c, "FG001") == (29, 29, 0)
    assert _last_detail(c, "FG001-INV-001")["physicalInventoryId"] == "PI-DAY"

    # 9. Variance: one unit of FG002-INV-002 damaged: 9 -> 8. FG002 = QOH 40, ATP 35.
    _ok(
        c.post(
            "/v1/variances",
            json={
                "inventoryItemId": "FG002-INV-002",
                "quantity": -1,
                "varianceReasonId": "VAR_DAMAGED",
                "comments": "dropped",
            },
        ),
        200,
    )
    assert _item(c, "FG002-INV-002") == (8, 8)
    assert _avail(c, "FG002") == (40, 35, 5)

    # 10. Ship O1/00001 (5 of FG002) as planned: QOH of the reserved item FG002-INV-001 32 -> 27; its ATP
    #     was taken at reservation and stays 27. FG002 = 35/35, nothing reserved. COGS FIFO: the only cost
    #     layer is the 10 units received at 12.50 in step 2 -> 5 x 12.50 = 62.50.
    _ok(
        c.post(
            "/v1/shipments",
            json={
                "shipmentId": "SH-1",
                "primaryOrderId": "O1",
                "originFacilityId": F,
                "items": [
                    {
                        "shipmentItemSeqId": "00001",
                        "orderItemSeqId": "00001",
                        "productId": "FG002",
                        "quantity": 5,
                    }
                ],
            },
        ),
        201,
    )
    shipped = _ok(c.post("/v1/shipments/SH-1/ship", json={}), 200)
    assert shipped["totalCogs"] == 62.5
    assert _item(c, "FG002-INV-001") == (27, 27)
    assert _avail(c, "FG002") == (35, 35, 0)
    issued = _last_detail(c, "FG002-INV-001")
    assert (issued["shipmentId"], issued["orderId"], issued["quantityOnHandDiff"]) == ("SH-1", "O1", -5)
    assert issued["itemIssuanceId"] == shipped["issuances"][0]["itemIssuanceId"]

    # 11. POS sale: 2 of FG003, a shipment created and shipped at once: FG003 = 69 - 2 = 67/67.
    pos = _ok(
        c.post(
            "/v1/pos-sales",
            json={
                "orderId": "POS-1",
                "facilityId": F,
                "items": [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 2}],
            },
        ),
        201,
    )
    assert pos["issuances"][0]["quantity"] == 2
    assert _avail(c, "FG003") == (67, 67, 0)

    # 12. Return of 1 FG002 from O1/00001: back as INV_RETURNED, QOH + 1 only: FG002 = 36/35.
    #     Its cost is the original COGS per unit, 62.50 / 5 = 12.50.
    returned = _ok(
        c.post(
            "/v1/returns",
            json={
                "returnId": "R-1",
                "orderId": "O1",
                "facilityId": F,
                "items": [
                    {
                        "returnItemSeqId": "00001",
                        "orderItemSeqId": "00001",
                        "productId": "FG002",
                        "returnQuantity": 1,
                    }
                ],
            },
        ),
        201,
    )
    assert returned["items"][0]["returnCost"] == 12.5
    assert _avail(c, "FG002")[:2] == (36, 35)

    # 13. Inspection AVAILABLE: the unit becomes sellable, ATP + 1: FG002 = 36/36.
    _ok(c.post("/v1/returns/R-1/items/00001/inspect", json={"outcome": "AVAILABLE"}), 200)
    assert _avail(c, "FG002")[:2] == (36, 36)

    # 14. Shipment reset (seed 002): a new shipment for O3 with ship group UPS/GROUND, changed to
    #     FEDEX/AIR and packed, then reset: SHIPMENT_INPUT and UPS/GROUND on the shipment and its segment.
    _ok(
        c.post(
            "/v1/shipments",
            json={
                "shipmentId": "SH-2",
                "primaryOrderId": "O3",
                "originFacilityId": F,
                "items": [
                    {
                        "shipmentItemSeqId": "00001",
                        "orderItemSeqId": "00001",
                        "productId": "FG001",
                        "quantity": 1,
                    }
                ],
                "shipGroup": {
                    "shipGroupSeqId": "00001",
                    "carrierPartyId": "UPS",
                    "shipmentMethodTypeId": "GROUND",
                },
                "routeSegments": [{"shipmentRouteSegmentId": "00001"}],
            },
        ),
        201,
    )
    _ok(
        c.patch(
            "/v1/shipments/SH-2",
            json={"carrierPartyId": "FEDEX", "shipmentMethodTypeId": "AIR", "statusId": "SHIPMENT_PACKED"},
        ),
        200,
    )
    reset_shipment = _ok(c.post("/v1/shipments/SH-2/reset"), 200)
    assert reset_shipment["statusId"] == "SHIPMENT_INPUT"
    assert (reset_shipment["carrierPartyId"], reset_shipment["shipmentMethodTypeId"]) == ("UPS", "GROUND")
    segment = reset_shipment["routeSegments"][0]
    assert (segment["carrierPartyId"], segment["shipmentMethodTypeId"]) == ("UPS", "GROUND")

    # Time travel: on 2024-07-20 the store had the seed numbers, whatever happened today.
    assert _avail(c, "FG002", "2024-07-20T00:00:00Z")[:2] == (31, 31)
    assert _avail(c, "FG003", "2024-07-20T00:00:00Z")[:2] == (62, 62)

    # End of day: FG001 29/29, FG002 36/36, FG003 67/67, and the ledger explains every total.
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    verified = CliRunner().invoke(cli, ["verify"])
    assert verified.exit_code == 0, verified.output
