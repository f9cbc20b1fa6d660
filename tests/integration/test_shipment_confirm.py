"""confirmShipment against real reservations and receipts (helper-2's endpoints), both databases.

FACILITY_2 starts empty and stocks FG001 only through receipts, so every unit has a cost
layer and the COGS can be worked out by hand:
    receipt R1: 10 units at 4.00 (lot L1, expires first)
    receipt R2:  5 units at 5.00 (lot L2)
    receipt R3:  8 units at 6.50 (lot L3)
    23 units on hand, worth 40 + 25 + 52 = 117.00
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.core.db import Database
from stockledger.core.errors import AppError
from stockledger.ledger.models import InventoryItem, ItemIssuance, OrderItemInventoryReservation
from stockledger.reservations.service import cancel_reservation
from stockledger.shipping.confirm import confirm_shipment
from tests.shipping_support import details, events, layers, product_totals, snapshot, totals

D = Decimal
F2 = "FACILITY_2"
RECEIPTS = [
    ("L1", 10, 4.00, "2031-01-01"),
    ("L2", 5, 5.00, "2032-01-01"),
    ("L3", 8, 6.50, "2033-01-01"),
]


def ok(response: Any, status: int) -> dict[str, Any]:
    """The JSON body of an answer with exactly `status` (201: something created; 200: the rest)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def receive(client: TestClient, lot: str, quantity: int, unit_cost: float, expire: str) -> None:
    line = {
        "shipmentItemSeqId": "00001",
        "productId": "FG001",
        "quantityAccepted": quantity,
        "quantityRejected": 0,
        "unitCost": unit_cost,
        "lotId": lot,
        "expireDate": f"{expire}T00:00:00",
    }
    ok(client.post("/v1/receipts", json={"shipmentId": f"PO-{lot}", "facilityId": F2, "items": [line]}), 201)


def reserve(client: TestClient, order_id: str, quantity: int, seq: str = "00001") -> Any:
    body = {
        "orderId": order_id,
        "orderItemSeqId": seq,
        "productId": "FG001",
        "facilityId": F2,
        "quantity": quantity,
    }
    return client.post("/v1/reservations", json=body)


def create_shipment(client: TestClient, shipment_id: str, order_id: str, quantity: int) -> None:
    doc = {
        "shipmentId": shipment_id,
        "primaryOrderId": order_id,
        "originFacilityId": F2,
        "items": [
            {
                "shipmentItemSeqId": "00001",
                "orderItemSeqId": "00001",
                "productId": "FG001",
                "quantity": quantity,
            }
        ],
    }
    ok(client.post("/v1/shipments", json=doc), 201)


def ship(client: TestClient, shipment_id: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/v1/shipments/{shipment_id}/ship", json=body or {})


def reservations(db: Database, order_id: str) -> list[tuple[str, Decimal, str]]:
    with db.reading() as session:
        r = OrderItemInventoryReservation
        rows = session.execute(
            select(r.inventory_item_id, r.quantity, r.status_id)
            .where(r.facility_id == F2, r.order_id == order_id)
            .order_by(r.inventory_item_id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def lot_item(db: Database, lot: str) -> str:
    with db.reading() as session:
        item_id = session.scalar(
            select(InventoryItem.inventory_item_id).where(
                InventoryItem.facility_id == F2, InventoryItem.lot_id == lot
            )
        )
        assert item_id is not None, lot
        return item_id


@pytest.fixture
def stocked(seeded: Database, seeded_client: TestClient) -> TestClient:
    ok(
        seeded_client.post(
            "/v1/import", json={"facilityId": F2, "facilityName": "DC", "products": [{"productId": "FG001"}]}
        ),
        200,
    )
    for lot, quantity, cost, expire in RECEIPTS:
        receive(seeded_client, lot, quantity, cost, expire)
    assert product_totals(seeded, "FG001", F2) == (23, 23)
    assert [(q, c) for q, _, c in layers(seeded, "FG001", F2)] == [(10, 4), (5, 5), (8, D("6.5"))]
    return seeded_client


def test_fifo_cogs_over_several_receipts(stocked: TestClient, seeded: Database) -> None:
    ok(reserve(stocked, "ORD1", 12), 201)
    assert product_totals(seeded, "FG001", F2) == (23, 11)  # reserving: ATP − 12, QOH stays
    create_shipment(stocked, "SH1", "ORD1", 12)
    body = ok(ship(stocked, "SH1"), 200)
    # FIFO: 10 × 4.00 (R1) + 2 × 5.00 (R2) = 40 + 10 = 50.00
    assert body["totalCogs"] == 50
    assert sum(i["quantity"] for i in body["issuances"]) == 12
    assert sum(D(str(i["cogs"])) for i in body["issuances"]) == 50
    assert product_totals(seeded, "FG001", F2) == (11, 11)  # QOH − 12; ATP was taken at reservation
    assert [r[1:] for r in reservations(seeded, "ORD1")] == [(0, "RES_FULFILLED")] * len(
        reservations(seeded, "ORD1")
    )
    assert [remaining for _, remaining, _ in layers(seeded, "FG001", F2)] == [0, 3, 8]
    # a second shipment continues where FIFO stopped: 3 × 5.00 + 2 × 6.50 = 15 + 13 = 28.00
    ok(reserve(stocked, "ORD2", 5), 201)
    create_shipment(stocked, "SH2", "ORD2", 5)
    assert ok(ship(stocked, "SH2"), 200)["totalCogs"] == 28
    assert [remaining for _, remaining, _ in layers(seeded, "FG001", F2)] == [0, 0, 6]
    with seeded.reading() as session:
        stored = session.scalars(select(ItemIssuance).where(ItemIssuance.shipment_id == "SH1")).all()
        assert sum(i.quantity for i in stored) == 12
        assert sum(i.cogs or 0 for i in stored) == 50
        assert {(i.order_id, i.order_item_seq_id, i.shipment_item_seq_id) for i in stored} == {
            ("ORD1", "00001", "00001")
        }


def test_lifo_cogs_over_several_receipts(stocked: TestClient, seeded: Database) -> None:
    ok(stocked.patch(f"/v1/facilities/{F2}", json={"costingMethodId": "LIFO"}), 200)
    ok(reserve(stocked, "ORD1", 12), 201)
    create_shipment(stocked, "SH1", "ORD1", 12)
    # LIFO: 8 × 6.50 (R3) + 4 × 5.00 (R2) = 52 + 20 = 72.00
    assert ok(ship(stocked, "SH1"), 200)["totalCogs"] == 72
    assert [remaining for _, remaining, _ in layers(seeded, "FG001", F2)] == [10, 1, 0]


def test_average_cogs_over_several_receipts(stocked: TestClient, seeded: Database) -> None:
    ok(stocked.patch(f"/v1/facilities/{F2}", json={"costingMethodId": "AVERAGE"}), 200)
    ok(reserve(stocked, "ORD1", 10), 201)
    create_shipment(stocked, "SH1", "ORD1", 10)
    # 117 / 23 per unit; 10 units = 1170 / 23 = 50.869565
    assert ok(ship(stocked, "SH1"), 200)["totalCogs"] == 50.869565


def test_shipping_another_lot_than_reserved_moves_the_promise(stocked: TestClient, seeded: Database) -> None:
    ok(reserve(stocked, "ORD1", 3), 201)
    [(reserved_item, quantity, status)] = reservations(seeded, "ORD1")
    assert (quantity, status) == (3, "RES_ACTIVE")
    reserved_before = totals(seeded, reserved_item, F2)
    shipped_lot = "L3" if reserved_item != lot_item(seeded, "L3") else "L2"
    shipped_item = lot_item(seeded, shipped_lot)
    shipped_before = totals(seeded, shipped_item, F2)
    create_shipment(stocked, "SH1", "ORD1", 3)
    body = ok(
        ship(
            stocked, "SH1", {"items": [{"shipmentItemSeqId": "00001", "quantity": 3, "lotId": shipped_lot}]}
        ),
        200,
    )
    [issuance] = body["issuances"]
    assert (issuance["inventoryItemId"], issuance["lotId"], issuance["quantity"]) == (
        shipped_item,
        shipped_lot,
        3,
    )
    # the reserved item keeps its units and gets its promise back: QOH same, ATP + 3
    assert totals(seeded, reserved_item, F2) == (reserved_before[0], reserved_before[1] + 3)
    # the lot that shipped loses the units and takes the promise with them: QOH − 3, ATP − 3
    assert totals(seeded, shipped_item, F2) == (shipped_before[0] - 3, shipped_before[1] - 3)
    assert product_totals(seeded, "FG001", F2) == (20, 20)
    assert reservations(seeded, "ORD1") == [(reserved_item, 0, "RES_FULFILLED")]
    out, back = details(seeded, shipped_item, F2)[-1], details(seeded, reserved_item, F2)[-1]
    assert (out.quantity_on_hand_diff, out.available_to_promise_diff, out.reason_enum_id) == (
        -3,
        -3,
        "ITEM_ISSUANCE",
    )
    assert (back.quantity_on_hand_diff, back.available_to_promise_diff, back.reason_enum_id) == (
        0,
        3,
        "RESERVATION_MOVED",
    )
    for row in (out, back):  # both events link order, order item, shipment, shipment item, issuance
        assert (row.order_id, row.order_item_seq_id, row.shipment_id, row.shipment_item_seq_id) == (
            "ORD1",
            "00001",
            "SH1",
            "00001",
        )
        assert row.item_issuance_id == issuance["itemIssuanceId"]
    [event] = events(seeded, "ShipmentConfirmed")
    assert event["issuances"][0]["lotId"] == shipped_lot
    assert event["shipmentId"] == "SH1"


def test_a_partial_shipment_shrinks_the_reservation_or_releases_the_rest(
    stocked: TestClient, seeded: Database
) -> None:
    ok(reserve(stocked, "ORD1", 5), 201)
    ok(reserve(stocked, "ORD2", 5), 201)
    create_shipment(stocked, "SH1", "ORD1", 5)
    create_shipment(stocked, "SH2", "ORD2", 5)
    assert product_totals(seeded, "FG001", F2) == (23, 13)
    ok(ship(stocked, "SH1", {"items": [{"shipmentItemSeqId": "00001", "quantity": 3}]}), 200)
    assert [(q, s) for _, q, s in reservations(seeded, "ORD1")] == [(2, "RES_ACTIVE")]  # 2 still promised
    assert product_totals(seeded, "FG001", F2) == (20, 13)
    ok(
        ship(
            stocked,
            "SH2",
            {"items": [{"shipmentItemSeqId": "00001", "quantity": 3}], "releaseRemainder": True},
        ),
        200,
    )
    assert [(q, s) for _, q, s in reservations(seeded, "ORD2")] == [(0, "RES_FULFILLED")]
    assert product_totals(seeded, "FG001", F2) == (17, 15)  # QOH − 3; the 2 left over back to ATP
    [_, released] = events(seeded, "ShipmentConfirmed")
    assert [r["quantity"] for r in released["releasedReservations"]] == [2]


def test_shipping_beyond_the_reservation(stocked: TestClient, seeded: Database) -> None:
    ok(reserve(stocked, "ORD1", 2), 201)
    create_shipment(stocked, "SH1", "ORD1", 2)
    before = snapshot(seeded)
    three = {"items": [{"shipmentItemSeqId": "00001", "quantity": 3}]}
    refused = ship(stocked, "SH1", three)
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    assert snapshot(seeded) == before
    ok(ship(stocked, "SH1", {**three, "allowUnreserved": True}), 200)
    assert product_totals(seeded, "FG001", F2) == (20, 20)  # 2 consumed (ATP taken before) + 1 unreserved


def test_returned_units_cannot_be_reserved_until_inspected_available(
    stocked: TestClient, seeded: Database
) -> None:
    ok(reserve(stocked, "ORD1", 23), 201)
    create_shipment(stocked, "SH1", "ORD1", 23)
    assert ok(ship(stocked, "SH1"), 200)["totalCogs"] == 117
    assert product_totals(seeded, "FG001", F2) == (0, 0)
    line = {"returnItemSeqId": "1", "orderItemSeqId": "00001", "productId": "FG001", "returnQuantity": 2}
    returned = ok(
        stocked.post(
            "/v1/returns", json={"returnId": "RET1", "orderId": "ORD1", "facilityId": F2, "items": [line]}
        ),
        201,
    )
    assert returned["items"][0]["returnCost"] == 5.086957  # original COGS per unit: 117 / 23, 6 decimals
    assert product_totals(seeded, "FG001", F2) == (2, 0)  # QOH only
    before = snapshot(seeded)
    refused = reserve(stocked, "ORD2", 1)
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    assert snapshot(seeded) == before
    ok(stocked.post("/v1/returns/RET1/items/1/inspect", json={"outcome": "AVAILABLE"}), 200)
    assert product_totals(seeded, "FG001", F2) == (2, 2)
    ok(reserve(stocked, "ORD2", 1), 201)
    assert product_totals(seeded, "FG001", F2) == (2, 1)


def _race(db: Database, *calls: Callable[[Any], object]) -> list[str]:
    """Run each call in its own transaction at the same time; the error code of each loser."""

    def run(call: Callable[[Any], object]) -> str:
        try:
            with db.transaction() as session:
                call(session)
            return "ok"
        except AppError as refused:
            return refused.code

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_concurrent_confirmations_ship_once(stocked: TestClient, seeded: Database) -> None:
    ok(reserve(stocked, "ORD1", 5), 201)
    create_shipment(stocked, "SH1", "ORD1", 5)
    outcomes = _race(seeded, lambda s: confirm_shipment(s, "SH1"), lambda s: confirm_shipment(s, "SH1"))
    assert sorted(outcomes) == ["conflict", "ok"]
    assert product_totals(seeded, "FG001", F2) == (18, 18)
    assert len(events(seeded, "ShipmentConfirmed")) == 1


def test_shipping_and_cancelling_one_order_item_at_once_stays_consistent(
    stocked: TestClient, seeded: Database
) -> None:
    ok(reserve(stocked, "ORD1", 5), 201)
    create_shipment(stocked, "SH1", "ORD1", 5)
    outcomes = _race(
        seeded,
        lambda s: confirm_shipment(s, "SH1"),
        lambda s: cancel_reservation(s, F2, "ORD1", "00001"),
    )
    # shipped first: nothing left to cancel (404); cancelled first: nothing reserved to ship (409)
    assert sorted(outcomes) in (["not_found", "ok"], ["insufficient_stock", "ok"])
    expected = (18, 18) if outcomes[0] == "ok" else (23, 23)
    assert product_totals(seeded, "FG001", F2) == expected
