"""A removal by productId (POST /v1/variances without inventoryItemId) comes from the product's
promisable stock as a whole (an outside tester, session 11: it took only from the oldest item,
refusing −6 with 8 sellable, and drove a reserved item's ATP below its reservations while another
item held free units). Free ATP first, oldest first, one ledger row per item, one transaction."""

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.promisable_support import EXPIRED, FACILITY, add_item


def _two_items(db: Database) -> None:
    add_item(db, "TK9", "TK9-A", 3, received=datetime(2026, 1, 1, tzinfo=UTC))  # older
    add_item(db, "TK9", "TK9-B", 5, received=datetime(2026, 2, 1, tzinfo=UTC))


def _remove(client: TestClient, quantity: int, **extra: Any) -> Any:
    body = {"facilityId": FACILITY, "productId": "TK9", "quantity": -quantity, "varianceReasonId": "VAR_LOST"}
    return client.post("/v1/variances", json={**body, **extra})


def _levels(client: TestClient) -> dict[str, tuple[Any, Any]]:
    levels = {}
    for item_id in ("TK9-A", "TK9-B"):
        body = client.get(f"/v1/inventory-items/{item_id}").json()
        levels[item_id] = (body["quantityOnHandTotal"], body["availableToPromiseTotal"])
    return levels


def test_a_removal_by_product_spreads_over_its_items_oldest_first(
    seeded_client: TestClient, seeded: Database
) -> None:
    _two_items(seeded)
    answer = _remove(seeded_client, 6)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(i["inventoryItemId"], i["quantity"]) for i in body["items"]] == [("TK9-A", -3), ("TK9-B", -3)]
    assert (body["inventoryItemId"], body["quantity"]) == ("TK9-A", -6)
    assert _levels(seeded_client) == {"TK9-A": (0, 0), "TK9-B": (2, 2)}
    refused = _remove(seeded_client, 3)  # 2 sellable left: refused as a whole, nothing written
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (refused.json()["code"], refused.json()["quantityOnHandTotal"]) == ("negative_stock", 2)
    assert _levels(seeded_client) == {"TK9-A": (0, 0), "TK9-B": (2, 2)}


def test_a_removal_by_product_takes_free_units_before_reserved_ones(
    seeded_client: TestClient, seeded: Database
) -> None:
    _two_items(seeded)
    reserve = {"orderId": "O-TK9", "orderItemSeqId": "00001", "productId": "TK9", "facilityId": FACILITY}
    reserved = seeded_client.post("/v1/reservations", json={**reserve, "quantity": 3})
    assert reserved.status_code == 201, reserved.text
    assert [r["inventoryItemId"] for r in reserved.json()["reservations"]] == ["TK9-A"]
    answer = _remove(seeded_client, 2)
    assert answer.status_code == 200, answer.text
    assert [(i["inventoryItemId"], i["quantity"]) for i in answer.json()["items"]] == [("TK9-B", -2)]
    assert _levels(seeded_client) == {"TK9-A": (3, 0), "TK9-B": (3, 3)}
    picks = seeded_client.get("/v1/orders/O-TK9/pick-suggestions").json()["items"]
    assert {(p["inventoryItemId"], p["quantityToPick"]) for p in picks} == {("TK9-A", 3)}
    assert _remove(seeded_client, 4).status_code == 200  # the 3 free of B, then 1 reserved unit of A
    assert _levels(seeded_client) == {"TK9-A": (2, -1), "TK9-B": (0, 0)}


def test_an_expired_lot_is_not_taken_by_product(seeded_client: TestClient, seeded: Database) -> None:
    add_item(seeded, "TK9", "TK9-A", 4, expire_date=EXPIRED, received=datetime(2019, 1, 1, tzinfo=UTC))
    add_item(seeded, "TK9", "TK9-B", 5)
    answer = _remove(seeded_client, 2)
    assert answer.status_code == 200, answer.text
    assert [i["inventoryItemId"] for i in answer.json()["items"]] == ["TK9-B"]
