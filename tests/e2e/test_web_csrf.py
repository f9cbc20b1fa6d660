"""Pages write like the API (principal bound, scope in the write path); cross-site writes are refused."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.auth.service import create_token
from stockledger.catalog.importer import import_document
from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, InventoryItemDetail, Shipment
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _rows, login_csrf

EVIL = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
VARIANCE = {"quantity": "-1", "varianceReasonId": "VAR_DAMAGED"}


def _second_facility(db: Database) -> str:
    """FACILITY_2 with FG001 in stock; the id of its item."""
    with db.transaction() as session:
        import_document(session, {"facilityId": "FACILITY_2", "products": [{"productId": "FG001"}]})
        return find_or_create_facility_inventory_item(session, "FACILITY_2", "FG001").inventory_item_id


def _totals(db: Database, facility_id: str, item_id: str) -> tuple[Any, Any]:
    with db.reading() as session:
        item = session.get(InventoryItem, (facility_id, item_id))
        assert item is not None
        return item.quantity_on_hand_total, item.available_to_promise_total


def test_a_form_naming_another_facilitys_item_is_refused_in_the_write_path(
    seeded: Database, client: TestClient
) -> None:
    other = _second_facility(seeded)
    _as(client, seeded, "store", ["FACILITY_1"])
    before, totals = _rows(seeded), _totals(seeded, "FACILITY_2", other)
    response = client.post(
        f"{PRODUCT}/FG001/variance", data={**VARIANCE, "inventoryItemId": other}, headers=HX
    )
    assert response.status_code == 403
    assert f"may not act on inventory item {other}" in response.text  # naming nothing of FACILITY_2
    assert "FACILITY_2" not in response.text
    assert (_rows(seeded), _totals(seeded, "FACILITY_2", other)) == (before, totals)


def test_a_page_write_records_the_signed_in_user(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store", user="till.3")
    assert client.post(f"{PRODUCT}/FG002/variance", data=VARIANCE, headers=HX).status_code == 200
    with seeded.reading() as session:
        newest = session.scalars(
            select(InventoryItemDetail).order_by(InventoryItemDetail.created_stamp.desc()).limit(1)
        ).one()
    assert (newest.reason_enum_id, newest.change_by_user_login_id) == ("VAR_DAMAGED", "till.3")


def test_a_form_without_its_csrf_token_or_from_another_site_changes_nothing(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "store")
    token = client.headers.pop("X-CSRF-Token")
    before = _rows(seeded)
    url = f"{PRODUCT}/FG002/variance"
    assert client.post(url, data=VARIANCE).status_code == 403  # no token
    assert client.post(url, data={**VARIANCE, "csrf_token": "0" * 64}).status_code == 403
    assert client.post(url, data=VARIANCE, headers={"X-CSRF-Token": "f" * 64}).status_code == 403
    for origin in ({"Origin": "null"}, {"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = client.post(url, data={**VARIANCE, "csrf_token": token}, headers=origin)
        assert refused.status_code == 403
    assert client.post("/ui/logout", follow_redirects=False).status_code == 403
    assert _rows(seeded) == before
    as_form = client.post(url, data={**VARIANCE, "csrf_token": token}, follow_redirects=False)
    assert as_form.status_code == 303  # a plain form post, token in its hidden field
    as_htmx = client.post(url, data=VARIANCE, headers={**HX, "X-CSRF-Token": token})
    assert as_htmx.status_code == 200  # htmx: the token from hx-headers
    assert _rows(seeded)[0] == before[0] + 2


def test_the_sign_in_form_needs_its_own_token(seeded: Database, client: TestClient) -> None:
    with seeded.transaction() as session:
        token = create_token(session, "viewer").token
    refused = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    assert refused.status_code == 403
    assert "stockledger_token" not in refused.headers.get("set-cookie", "")
    form = login_csrf(client)
    evil = client.post("/ui/login", data={"token": token, "csrf_token": form}, headers={"Origin": "null"})
    assert evil.status_code == 403
    signed = client.post("/ui/login", data={"token": token, "csrf_token": form}, follow_redirects=False)
    assert (signed.status_code, signed.headers["location"]) == (303, "/ui")


def _shipment(client: TestClient) -> None:
    body = {
        "shipmentId": "SH-X",
        "primaryOrderId": "OX",
        "originFacilityId": "FACILITY_1",
        "items": [{"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "FG002", "quantity": 1}],
    }
    assert client.post("/v1/shipments", json=body).status_code == 201


def test_v1_takes_the_sign_in_cookie_for_reads_only(seeded: Database, client: TestClient) -> None:
    _shipment(client)  # as the admin, with its Bearer header
    del client.headers["Authorization"]
    with seeded.transaction() as session:
        client.cookies.set("stockledger_token", create_token(session, "admin").token)
    before = _rows(seeded)
    for path in (
        "/v1/shipments/SH-X/ship",
        "/v1/shipments/SH-X/reset",
        "/v1/facilities/FACILITY_1/products/FG009/inventory-item",
    ):
        # The form-like cross-site post (text/plain, no preflight) is refused before it is read...
        refused = client.post(path, content=b"{}", headers=EVIL)
        assert refused.status_code == 415, path
        assert refused.json()["code"] == "unsupported_media_type"
        # ...and as JSON, from anywhere, the cookie is no write token.
        for headers in (EVIL | {"Content-Type": "application/json"}, {}):
            refused = client.post(path, json={}, headers=headers)
            assert refused.status_code == 401, path
            assert refused.json()["code"] == "unauthorized"
    assert _rows(seeded) == before
    with seeded.reading() as session:
        shipment = session.get(Shipment, ("FACILITY_1", "SH-X"))
        assert shipment is not None
        assert shipment.status_id == "SHIPMENT_INPUT"
    assert client.get("/v1/shipments/SH-X").status_code == 200  # reads: the cookie will do
