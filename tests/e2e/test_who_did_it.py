"""Who did it (SPEC §11): every row a request writes names its token's user, on every write path."""

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.auth.service import create_token
from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import (
    ExternalInventoryReset,
    InventoryItemDetail,
    InventoryItemVariance,
    ItemIssuance,
    PhysicalInventory,
    ReturnItem,
    ShipmentReceipt,
)
from tests.stock_support import add_sole_item

F = "FACILITY_1"
USER = "ann.lee"


def _details(db: Database) -> dict[tuple[str, str], str | None]:
    with db.reading() as session:
        rows = session.execute(
            select(
                InventoryItemDetail.inventory_item_id,
                InventoryItemDetail.inventory_item_detail_seq_id,
                InventoryItemDetail.change_by_user_login_id,
            )
        )
        return {(item, seq): user for item, seq, user in rows}


def _event_users(db: Database, after: int) -> list[tuple[str, Any]]:
    with db.reading() as session:
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.event_seq > after))
        return [(e.event_type, json.loads(e.payload).get("changeByUserLoginId")) for e in events]


def _last_event(db: Database) -> int:
    with db.reading() as session:
        return max(session.scalars(select(OutboxEvent.event_seq)), default=0)


def _as_user(client: TestClient, db: Database) -> TestClient:
    with db.transaction() as session:
        token = create_token(session, "admin", user=USER).token
    client.headers["Authorization"] = f"Bearer {token}"
    return client


CREATED = ("/v1/reservations", "/v1/receipts", "/v1/pos-sales", "/v1/returns")


def _ok(response: Any) -> Any:
    expected = 201 if response.request.url.path in CREATED else 200
    assert response.status_code == expected, response.text
    return response.json()


def _reserve_and_release(client: TestClient) -> None:
    line = {"orderItemSeqId": "1", "productId": "SOLE", "facilityId": F, "quantity": 1}
    _ok(client.post("/v1/reservations", json={"orderId": "O1", **line}))  # PostgreSQL: the event loop
    keyed = {"Idempotency-Key": "who-1"}  # the sole item inside the request's transaction
    _ok(client.post("/v1/reservations", json={"orderId": "O2", **line}, headers=keyed))
    order = {
        "facilityId": F,
        "items": [
            {"orderItemSeqId": "1", "productId": "FG001", "quantity": 2},
            {"orderItemSeqId": "2", "productId": "FG002", "quantity": 1},
        ],
    }
    _ok(client.post("/v1/orders/O3/reserve", json=order))
    assert client.delete("/v1/reservations/O3/1").status_code == 200
    reject = {"rejectionMode": "ATP_ONE", "rejectReasonId": "NOT_IN_STOCK"}
    _ok(client.post("/v1/orders/O3/items/2/reject", json=reject))


def _stock_movements(client: TestClient) -> None:
    variance = {"facilityId": F, "productId": "FG002", "quantity": -1, "varianceReasonId": "VAR_STOLEN"}
    assert _ok(client.post("/v1/variances", json=variance))["changeByUserLoginId"] == USER
    count = {
        "physicalInventoryId": "PI-W",
        "facilityId": F,
        "counts": [{"productId": "FG003", "quantityCounted": 5}],
    }
    _ok(client.post("/v1/physical-inventories", json=count))
    line = {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 4}
    _ok(client.post("/v1/receipts", json={"shipmentId": "PO-W", "facilityId": F, "items": [line]}))
    lines = [{"facilityId": F, "productId": "FG001", "quantityOnHand": 50}]
    _ok(client.post("/v1/external-inventory-resets", json={"source": "ERP", "lines": lines}))


def _sale_and_return(client: TestClient) -> None:
    sale = {
        "orderId": "P1",
        "facilityId": F,
        "items": [{"orderItemSeqId": "1", "productId": "FG002", "quantity": 3}],
    }
    _ok(client.post("/v1/pos-sales", json=sale))
    item = {"returnItemSeqId": "1", "orderItemSeqId": "1", "productId": "FG002", "returnQuantity": 2}
    _ok(
        client.post("/v1/returns", json={"returnId": "R1", "orderId": "P1", "facilityId": F, "items": [item]})
    )
    _ok(client.post("/v1/returns/R1/items/1/inspect", json={"outcome": "AVAILABLE"}))


def test_every_row_a_token_writes_names_its_user(seeded: Database, seeded_client: TestClient) -> None:
    add_sole_item(seeded, "SOLE", 5)
    before, after_event = _details(seeded), _last_event(seeded)
    client = _as_user(seeded_client, seeded)
    _reserve_and_release(client)
    _stock_movements(client)
    _sale_and_return(client)

    written = {key: user for key, user in _details(seeded).items() if key not in before}
    assert len(written) >= 12
    assert set(written.values()) == {USER}
    events = _event_users(seeded, after_event)
    assert {kind for kind, _ in events} >= {
        "StockReserved",
        "ReservationReleased",
        "InventoryChanged",
        "InventoryReset",
        "ShipmentConfirmed",
        "ReturnReceived",
    }
    assert {user for _, user in events} == {USER}
    with seeded.reading() as session:
        who = [
            session.scalar(
                select(PhysicalInventory.change_by_user_login_id).where(
                    PhysicalInventory.physical_inventory_id == "PI-W"
                )
            ),
            *session.scalars(
                select(InventoryItemVariance.change_by_user_login_id).where(
                    InventoryItemVariance.physical_inventory_id == "PI-W"
                )
            ),
            session.scalar(select(ShipmentReceipt.received_by_user_login_id)),
            session.scalar(select(ExternalInventoryReset.created_by_user_login_id)),
            session.scalar(select(ReturnItem.change_by_user_login_id)),
            session.scalar(select(ItemIssuance.issued_by_user_login_id)),
        ]
    assert len(who) >= 6  # a product count writes a variance per item it changes
    assert set(who) == {USER}
