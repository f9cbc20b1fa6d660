"""What a token scoped to FACILITY_1 may do with FACILITY_2's orders, reservations, items and
shipments, and what it is told when it may not (red team F1-F4, F6, F7): another facility's
rows are acted on never, and named in no answer."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from tests.e2e.test_scope_oracles_api import _written
from tests.e2e.test_shipping_api import problem, shipment
from tests.e2e.test_web_pages import _as
from tests.scope_support import bearer, second_facility

F1 = ["FACILITY_1"]


def _item_of_facility_2(db: Database) -> str:
    with db.reading() as session:
        found = session.scalars(
            select(InventoryItem.inventory_item_id).where(InventoryItem.facility_id == "FACILITY_2")
        ).first()
    assert found is not None
    return found


def _return(
    quantity: int, product_id: str = "FG001", seq: str = "1", return_id: str = "R1"
) -> dict[str, Any]:
    item = {
        "orderItemSeqId": seq,
        "productId": product_id,
        "returnItemSeqId": "1",
        "returnQuantity": quantity,
    }
    return {"returnId": return_id, "orderId": "P-1", "facilityId": "FACILITY_1", "items": [item]}


def _sold_at_facility_2(client: TestClient, db: Database) -> None:
    """Order P-1 item 1: 2 of FG001 sold (so shipped) at FACILITY_2's till."""
    second_facility(db)
    items = [{"orderItemSeqId": "1", "productId": "FG001", "quantity": 2}]
    sale = client.post("/v1/pos-sales", json={"orderId": "P-1", "facilityId": "FACILITY_2", "items": items})
    assert sale.status_code == 201, sale.text


def test_a_scoped_return_of_too_much_says_what_is_returnable_not_what_was_shipped(
    seeded_client: TestClient, seeded: Database
) -> None:
    _sold_at_facility_2(seeded_client, seeded)
    scoped = bearer(seeded, "oms", F1)
    before = _written(seeded)
    body = problem(
        seeded_client.post("/v1/returns", json=_return(3), headers=scoped), 409, "return_exceeds_shipped"
    )
    assert body["detail"] == "Order item P-1/1 may return at most 2 more of FG001; 3 more cannot be returned"
    assert (body["returnable"], body["requested"]) == (2, 3)
    assert not {"quantityShipped", "quantityReturned"} & body.keys()
    assert _written(seeded) == before
    unscoped = problem(seeded_client.post("/v1/returns", json=_return(3)), 409, "return_exceeds_shipped")
    assert (unscoped["quantityShipped"], unscoped["quantityReturned"], unscoped["returnable"]) == (2, 0, 2)


def test_an_order_shipped_elsewhere_comes_back_here_with_the_orders_cost(
    seeded_client: TestClient, seeded: Database
) -> None:
    """Buy online, return in store: allowed; the return cost is the order line's, whoever shipped it."""
    _sold_at_facility_2(seeded_client, seeded)
    scoped = bearer(seeded, "oms", F1)
    accepted = seeded_client.post("/v1/returns", json=_return(2), headers=scoped)
    assert accepted.status_code == 201, accepted.text
    assert [i["returnQuantity"] for i in accepted.json()["items"]] == [2]
    again = seeded_client.post("/v1/returns", json=_return(1, return_id="R2"), headers=scoped)
    body = problem(again, 409, "return_exceeds_shipped")
    assert body["detail"] == "Order item P-1/1 may return at most 0 more of FG001; 1 more cannot be returned"
    assert not {"quantityShipped", "quantityReturned"} & body.keys()


@pytest.mark.parametrize(
    ("ret", "code", "detail"),
    [
        (_return(1, "FG002"), "order_item_conflict", "Order item P-1/1 belongs to product FG001, not FG002"),
        (
            _return(1, seq="9"),
            "not_shipped",
            "Order item P-1/9 never shipped FG001; nothing of it can be returned",
        ),
    ],
)
def test_a_scoped_return_of_another_product_or_of_nothing_shipped_is_refused(
    seeded_client: TestClient, seeded: Database, ret: dict[str, Any], code: str, detail: str
) -> None:
    _sold_at_facility_2(seeded_client, seeded)
    before = _written(seeded)
    body = problem(seeded_client.post("/v1/returns", json=ret, headers=bearer(seeded, "oms", F1)), 409, code)
    assert body["detail"] == detail
    assert _written(seeded) == before


def _reserve(client: TestClient, facility_id: str, quantity: int) -> None:
    line = {"orderId": "O9", "orderItemSeqId": "1", "productId": "FG001", "quantity": quantity}
    assert client.post("/v1/reservations", json={**line, "facilityId": facility_id}).status_code == 201


def _active(db: Database) -> dict[str, int]:
    r = OrderItemInventoryReservation
    with db.reading() as session:
        rows = session.execute(select(r.facility_id, r.quantity).where(r.status_id == "RES_ACTIVE")).all()
    return {facility: int(quantity) for facility, quantity in rows}


def _cancel(client: TestClient, headers: dict[str, str]) -> Any:
    return client.delete("/v1/reservations/O9/1", headers=headers)


def _reject(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/v1/orders/O9/items/1/reject", json={"rejectionMode": "RELEASE"}, headers=headers)


@pytest.mark.parametrize(("act", "role"), [(_cancel, "oms"), (_reject, "store")], ids=["cancel", "reject"])
def test_another_facilitys_reservation_is_no_active_reservation_for_a_scoped_token(
    seeded_client: TestClient, seeded: Database, act: Any, role: str
) -> None:
    second_facility(seeded)
    _reserve(seeded_client, "FACILITY_2", 1)
    scoped = bearer(seeded, role, F1)
    before = _written(seeded)
    refused = act(seeded_client, scoped)
    body = problem(refused, 404, "not_found")
    assert body["detail"].startswith("Order item O9/1 has no active reservation")
    assert "FACILITY_2" not in refused.text
    assert (_written(seeded), _active(seeded)) == (before, {"FACILITY_2": 1})


@pytest.mark.parametrize(("act", "role"), [(_cancel, "oms"), (_reject, "store")], ids=["cancel", "reject"])
def test_a_scoped_token_cancels_or_rejects_its_facilitys_part_only(
    seeded_client: TestClient, seeded: Database, act: Any, role: str
) -> None:
    second_facility(seeded)
    _reserve(seeded_client, "FACILITY_2", 1)
    _reserve(seeded_client, "FACILITY_1", 2)
    done = act(seeded_client, bearer(seeded, role, F1))
    assert done.status_code == 200, done.text
    assert done.json()["quantityReleased"] == 2
    assert "FACILITY_2" not in done.text
    assert _active(seeded) == {"FACILITY_2": 1}
    assert act(seeded_client, {}).json()["quantityReleased"] == 1  # an unscoped token: the rest
    assert _active(seeded) == {}


def _variance_document(item_id: str) -> dict[str, Any]:
    variance = {"inventoryItemId": item_id, "quantityOnHandVar": 1, "availableToPromiseVar": 1}
    return {"physicalInventoryId": "PI-X", "inventoryItemVariances": [variance]}


def _items_document(item_id: str, product_id: str = "FG001") -> list[dict[str, Any]]:
    """A new FACILITY_1 item first (that must not be applied either), then `item_id`."""
    new = {
        "inventoryItemId": "NEW-1",
        "productId": "FG001",
        "facilityId": "FACILITY_1",
        "quantityOnHandTotal": 5,
    }
    return [new, {"inventoryItemId": item_id, "productId": product_id, "facilityId": "FACILITY_1"}]


def test_another_facilitys_item_in_an_import_or_a_variance_is_a_403_that_names_nothing(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    item_id = _item_of_facility_2(seeded)
    admin, store = bearer(seeded, "admin", F1), bearer(seeded, "store", F1)
    variance = {"inventoryItemId": item_id, "varianceReasonId": "VAR_LOST", "quantity": -1}
    before = _written(seeded)
    for refused in (
        seeded_client.post("/v1/import", json=_items_document(item_id), headers=admin),
        seeded_client.post("/v1/import", json=_variance_document(item_id), headers=admin),
        seeded_client.post("/v1/variances", json=variance, headers=store),
    ):
        body = problem(refused, 403, "forbidden")
        assert body["detail"] == f"This token may not act on inventory item {item_id}"
        assert "FACILITY_2" not in refused.text
    assert _written(seeded) == before
    unscoped = problem(seeded_client.post("/v1/import", json=_items_document(item_id)), 409, "conflict")
    assert unscoped["detail"] == f"Inventory item {item_id} already exists in facility FACILITY_2"


def test_an_import_never_changes_an_items_product(seeded_client: TestClient, seeded: Database) -> None:
    before = _written(seeded)
    refused = seeded_client.post("/v1/import", json=_items_document("FG001-INV-001", "FG002"))
    body = problem(refused, 409, "conflict")
    assert body["detail"] == (
        "Inventory item FG001-INV-001 holds product FG001, not FG002: "
        "an import cannot change an item's product"
    )
    assert (body["productId"], body["requestedProductId"]) == ("FG001", "FG002")
    assert _written(seeded) == before
    with seeded.reading() as session:
        assert session.get(InventoryItem, ("FACILITY_1", "NEW-1")) is None
        item = session.get(InventoryItem, ("FACILITY_1", "FG001-INV-001"))
        assert item is not None
        assert item.product_id == "FG001"
    same = seeded_client.post("/v1/import", json=_items_document("FG001-INV-001"))
    assert same.status_code == 200, same.text


def test_another_facilitys_item_page_is_a_403_that_names_nothing(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    item_id = _item_of_facility_2(seeded)
    page = _as(seeded_client, seeded, "viewer", F1).get(f"/ui/items/{item_id}")
    assert page.status_code == 403
    assert f"This token may not act on inventory item {item_id}<" in page.text
    assert "FACILITY_2" not in page.text
    assert seeded_client.get("/ui/items/FG001-INV-001").status_code == 200


def _receipt(shipment_id: str) -> dict[str, Any]:
    line = {"shipmentItemSeqId": "00001", "productId": "FG002", "quantityAccepted": 1}
    return {"shipmentId": shipment_id, "facilityId": "FACILITY_1", "items": [line]}


def _increase(shipment_id: str) -> dict[str, Any]:
    return {"facilityId": "FACILITY_1", "productId": "FG001", "quantity": 1, "shipmentId": shipment_id}


@pytest.mark.parametrize(
    ("path", "body"), [("/v1/receipts", _receipt), ("/v1/inventory-increases", _increase)]
)
def test_a_stock_change_linked_to_another_facilitys_shipment_is_refused(
    seeded_client: TestClient, seeded: Database, path: str, body: Any
) -> None:
    second_facility(seeded)
    for sid, origin in (("SH-F2", "FACILITY_2"), ("SH-F1", "FACILITY_1")):
        created = seeded_client.post("/v1/shipments", json=shipment(sid, originFacilityId=origin))
        assert created.status_code == 201
    before = _written(seeded)
    refused = seeded_client.post(path, json=body("SH-F2"), headers=bearer(seeded, "store", F1))
    assert problem(refused, 403, "forbidden")["detail"] == "This token may not act on shipment SH-F2"
    assert "FACILITY_2" not in refused.text
    both = bearer(seeded, "store", ["FACILITY_1", "FACILITY_2"])
    for headers in ({}, both):  # a token that may see the shipment: it does not fit (409)
        wrong = problem(seeded_client.post(path, json=body("SH-F2"), headers=headers), 409, "conflict")
        assert wrong["detail"] == (
            "Shipment SH-F2 is a sales shipment of facility FACILITY_2: a receipt names a purchase shipment"
            if path == "/v1/receipts"
            else "Shipment SH-F2 is not a shipment of facility FACILITY_1"
        )
    assert _written(seeded) == before
    scoped = bearer(seeded, "store", F1)
    # its facility's shipment (a return's increase; a receipt names a purchase shipment, never a
    # sales one), or one this ledger does not hold
    own_sales = 409 if path == "/v1/receipts" else 201
    assert seeded_client.post(path, json=body("SH-F1"), headers=scoped).status_code == own_sales
    assert seeded_client.post(path, json=body("PO-ELSEWHERE"), headers=scoped).status_code == 201
