"""The seed documents load as they stand, give the hand-computed numbers, and reload idempotently."""

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stockledger.auth.service import create_token
from stockledger.catalog.seeds import seed_documents
from stockledger.core.db import Database
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemDetail,
    InventoryItemVariance,
    PhysicalInventory,
)
from tests.seeds import seed_json_documents


def _availability(client: TestClient, product: str) -> dict[str, Any]:
    response = client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": product})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _snapshot(db: Database) -> tuple[list[tuple[str, Decimal, Decimal, Decimal]], int]:
    with db.reading() as session:
        items = session.execute(
            select(
                InventoryItem.inventory_item_id,
                InventoryItem.quantity_on_hand_total,
                InventoryItem.available_to_promise_total,
                InventoryItem.accounting_quantity_total,
            ).order_by(InventoryItem.inventory_item_id)
        ).all()
        details = session.scalar(select(func.count()).select_from(InventoryItemDetail))
    return [tuple(r) for r in items], int(details or 0)  # type: ignore[misc]


def test_packaged_demo_data_is_the_seed_json_as_written() -> None:
    from_seeds = [doc for _, doc in seed_json_documents()]
    packaged = [doc for _, doc in seed_documents()]
    # seed 002 repeats seed 001's InventoryItem list word for word
    assert from_seeds[2] == from_seeds[3]
    assert packaged == [from_seeds[0], from_seeds[1], from_seeds[2], from_seeds[4]]


def test_seed_001_sample_gives_the_hand_computed_availability(client: TestClient) -> None:
    for name, document in seed_json_documents()[:3]:  # the three documents of seed 001
        response = client.post("/v1/import", json=document)
        assert response.status_code == 200, (name, response.text)
    # FG001: items FG001-INV-001 (12) + FG001-INV-002 (18) = 30 on hand, 30 ATP;
    #        minimumStock 10 -> computedInventoryCount = 30 - 10 = 20
    # FG002: 22 + 11 = 33; minimumStock 15 -> 33 - 15 = 18
    # FG003: 35 + 27 = 62; minimumStock 20 -> 62 - 20 = 42
    expected = {"FG001": (30, 30, 10, 20), "FG002": (33, 33, 15, 18), "FG003": (62, 62, 20, 42)}
    for product, (qoh, atp, minimum, computed) in expected.items():
        got = _availability(client, product)
        assert (got["quantityOnHandTotal"], got["availableToPromiseTotal"]) == (qoh, atp), product
        assert (got["minimumStock"], got["computedInventoryCount"]) == (minimum, computed), product
        assert got["reservedQuantity"] == 0


def test_demo_adds_the_physical_inventory_variances(seeded_client: TestClient) -> None:
    # PI_20240715: FG001-INV-001 VAR_FOUND +1 (QOH and ATP); FG002-INV-002 VAR_DAMAGED -2.
    # FG001: 12 + 1 + 18 = 31, computed 31 - 10 = 21
    # FG002: 22 + 11 - 2 = 31, computed 31 - 15 = 16
    # FG003: untouched, 62, computed 42
    expected = {"FG001": (31, 21), "FG002": (31, 16), "FG003": (62, 42)}
    for product, (qoh_atp, computed) in expected.items():
        got = _availability(seeded_client, product)
        assert got["quantityOnHandTotal"] == got["availableToPromiseTotal"] == qoh_atp, product
        assert got["computedInventoryCount"] == computed, product


def test_every_seed_document_loaded_again_changes_nothing(client: TestClient, db: Database) -> None:
    documents = seed_json_documents()
    for _, document in documents:
        assert client.post("/v1/import", json=document).status_code == 200
    before = _snapshot(db)
    assert before[1] == 6 + 2  # six receipts, two PI variances
    for _, document in documents:
        response = client.post("/v1/import", json=document)
        assert response.status_code == 200
        assert response.json()["ledgerRowsWritten"] == 0
    assert _snapshot(db) == before


def test_detail_rows_arrive_as_ledger_rows_with_their_keys(seeded_client: TestClient) -> None:
    body = seeded_client.get("/v1/inventory-items/FG002-INV-002/details").json()
    rows = [
        (r["inventoryItemDetailSeqId"], r["quantityOnHandDiff"], r["reasonEnumId"], r["physicalInventoryId"])
        for r in body["items"]
    ]
    assert rows == [("0001", 11, "INV_RECEIPT", None), ("00002", -2, "VAR_DAMAGED", "PI_20240715")]
    assert body["items"][0]["effectiveDate"].startswith("2024-07-11T15:55:00")
    assert body["next"] is None


def test_stated_totals_without_details_become_one_ledger_row(seeded_client: TestClient) -> None:
    doc = [
        {
            "inventoryItemId": "FG003-LOT-9",
            "productId": "FG003",
            "facilityId": "FACILITY_1",
            "lotId": "LOT-9",
            "quantityOnHandTotal": 5,
            "availableToPromiseTotal": 4,
        }
    ]
    assert seeded_client.post("/v1/import", json=doc).json()["ledgerRowsWritten"] == 1
    assert seeded_client.post("/v1/import", json=doc).json()["ledgerRowsWritten"] == 0
    item = seeded_client.get("/v1/inventory-items/FG003-LOT-9").json()
    assert (item["quantityOnHandTotal"], item["availableToPromiseTotal"]) == (5, 4)


def _recorded_by(db: Database, physical_inventory_id: str) -> list[str | None]:
    """Who recorded the count's header, its variances and its ledger rows."""
    with db.reading() as session:
        return [
            session.scalar(
                select(PhysicalInventory.change_by_user_login_id).where(
                    PhysicalInventory.physical_inventory_id == physical_inventory_id
                )
            ),
            *session.scalars(
                select(InventoryItemVariance.change_by_user_login_id).where(
                    InventoryItemVariance.physical_inventory_id == physical_inventory_id
                )
            ),
            *session.scalars(
                select(InventoryItemDetail.change_by_user_login_id).where(
                    InventoryItemDetail.physical_inventory_id == physical_inventory_id
                )
            ),
        ]


def test_a_loaded_physical_inventory_is_recorded_by_its_party_without_a_user(seeded: Database) -> None:
    assert _recorded_by(seeded, "PI_20240715") == ["PARTY_EMPLOYEE_JOHN_DOE"] * 5


def test_an_imported_physical_inventory_is_recorded_by_the_acting_user(
    seeded_client: TestClient, seeded: Database
) -> None:
    (document,) = [d for _, d in seed_json_documents() if isinstance(d, dict) and "physicalInventoryId" in d]
    document = {
        **document,
        "physicalInventoryId": "PI_API",
        "inventoryItemVariances": [
            {**v, "physicalInventoryId": "PI_API"} for v in document["inventoryItemVariances"]
        ],
    }
    for user in ("ann.lee", "bob.ray"):  # loaded again by another: the first user stays
        with seeded.transaction() as session:
            token = create_token(session, "admin", user=user).token
        answer = seeded_client.post("/v1/import", json=document, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
    assert _recorded_by(seeded, "PI_API") == ["ann.lee"] * 5
