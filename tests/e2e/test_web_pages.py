"""The /ui pages over HTTP on both databases: sign-in, scope and roles, keyset pages, forms that refuse."""

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stockledger.auth.service import create_token
from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItemDetail, OrderItemInventoryReservation

HX = {"HX-Request": "true"}
PRODUCT = "/ui/facilities/FACILITY_1/products"


def _token(db: Database, role: str, facilities: list[str] | None = None, user: str | None = None) -> str:
    with db.transaction() as session:
        return create_token(session, role, facilities, user=user).token


def _as(
    client: TestClient, db: Database, role: str, facilities: list[str] | None = None, user: str | None = None
) -> TestClient:
    """Signed in as a new token, sending the CSRF token its pages carry (as htmx does)."""
    client.cookies.set("stockledger_token", _token(db, role, facilities, user))
    client.headers["X-CSRF-Token"] = page_csrf(client)
    return client


def page_csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', client.get("/ui").text)
    assert found is not None
    return found.group(1)


def login_csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text)
    assert found is not None
    return found.group(1)


def _rows(db: Database) -> tuple[int, int]:
    """Ledger rows and reservation rows: a refused form leaves both as they were."""
    with db.reading() as session:
        details = session.scalar(select(func.count()).select_from(InventoryItemDetail))
        reservations = session.scalar(select(func.count()).select_from(OrderItemInventoryReservation))
    return int(details or 0), int(reservations or 0)


def _numbers(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-num="(\w+)">([^<]*)<', html))


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="error" id="[^"]+">([^<]*)</p>', html)


def _product_ids(html: str) -> list[str]:
    return re.findall(r'data-product-id="([^"]+)"', html)


def test_pages_ask_for_a_token_and_the_cookie_is_httponly(seeded: Database, client: TestClient) -> None:
    response = client.get("/ui/facilities/FACILITY_1", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/ui/login")
    response = client.get("/ui", headers=HX, follow_redirects=False)
    assert (response.status_code, response.headers["hx-redirect"]) == (401, "/ui/login")
    client.cookies.set("stockledger_token", "sl_unknown_secret")
    assert client.get("/ui", follow_redirects=False).status_code == 303

    form = login_csrf(client)
    refused = client.post("/ui/login", data={"token": "sl_abc_def", "csrf_token": form})
    assert refused.status_code == 422
    assert "not valid or has been revoked" in refused.text
    token = _token(seeded, "viewer")
    signed = client.post("/ui/login", data={"token": token, "csrf_token": form}, follow_redirects=False)
    assert (signed.status_code, signed.headers["location"]) == (303, "/ui")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"stockledger_token={token};")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    client.cookies.set("stockledger_token", token)
    assert "<title>Choose a facility · stockledger</title>" in client.get("/ui").text
    out = client.post("/ui/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False)
    assert out.headers["location"] == "/ui/login"
    assert 'stockledger_token=""' in out.headers["set-cookie"]


def test_a_form_posted_from_another_site_is_refused(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    before = _rows(seeded)
    response = client.post(
        f"{PRODUCT}/FG001/variance",
        data={"quantity": "-1", "varianceReasonId": "VAR_DAMAGED"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert _rows(seeded) == before


def test_stock_pages_by_keyset_with_search_and_rows_below_minimum(
    seeded: Database, client: TestClient
) -> None:
    products = [
        {
            "productId": f"P{n:04d}",
            "productName": f"Widget {n}",
            "productFacility": {"minimumStock": 1 if n == 7 else 0},
        }
        for n in range(120)
    ]
    with seeded.transaction() as session:
        import_document(session, {"facilityId": "BIG", "facilityName": "Big warehouse", "products": products})
    _as(client, seeded, "viewer")
    seen: list[str] = []
    url: str | None = "/ui/facilities/BIG"
    pages = 0
    while url:
        html = client.get(url).text
        seen += _product_ids(html)
        pages += 1
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert pages == 3
    assert seen == [f"P{n:04d}" for n in range(120)]

    html = client.get("/ui/facilities/BIG", params={"q": "p011"}).text
    assert _product_ids(html) == [f"P{n:04d}" for n in range(110, 120)]
    assert _product_ids(client.get("/ui/facilities/BIG", params={"q": "widget 7"}).text)[:2] == [
        "P0007",
        "P0070",
    ]
    row = re.search(
        r'<tr class="([^"]*)" data-product-id="P0007"', html := client.get("/ui/facilities/BIG").text
    )
    assert row is not None
    assert row.group(1) == "below-min"
    assert re.search(r'<tr class="" data-product-id="P0008"', html)
    tampered = client.get("/ui/facilities/BIG", params={"after": "not-a-cursor"})
    assert tampered.status_code == 422
    assert "cursor" in tampered.text


def test_a_scoped_token_sees_only_its_facilities(seeded: Database, client: TestClient) -> None:
    with seeded.transaction() as session:
        import_document(session, {"facilityId": "STORE_2", "facilityName": "Second store"})
    _as(client, seeded, "store", ["STORE_2"])
    picker = client.get("/ui").text
    assert "/ui/facilities/STORE_2" in picker
    assert "/ui/facilities/FACILITY_1" not in picker
    assert client.get("/ui/facilities/FACILITY_1").status_code == 403
    assert client.get("/ui/items/FG001-INV-001").status_code == 403
    before = _rows(seeded)
    refused = client.post(f"{PRODUCT}/FG001/count", data={"quantityCounted": "1"})
    assert refused.status_code == 403
    assert _rows(seeded) == before


def test_forms_follow_the_role(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "viewer")
    page = client.get(f"{PRODUCT}/FG001").text
    assert "/count" not in page
    assert "/receive" not in page
    assert "/reserve" not in page
    before = _rows(seeded)
    assert client.post(f"{PRODUCT}/FG001/count", data={"quantityCounted": "1"}).status_code == 403
    _as(client, seeded, "store")
    page = client.get(f"{PRODUCT}/FG001").text
    assert "/count" in page
    assert "/receive" in page
    assert "/variance" in page
    assert "/reserve" not in page
    response = client.post(
        f"{PRODUCT}/FG001/reserve", data={"orderId": "O", "orderItemSeqId": "1", "quantity": "1"}
    )
    assert response.status_code == 403
    assert _rows(seeded) == before


def test_a_count_sets_qoh_and_a_bad_one_changes_nothing(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    before = _rows(seeded)
    for value, message in (
        ("-1", "zero or more"),
        ("abc", "Enter a number"),
        ("", "Enter the quantity you counted"),
        ("1.1234567", "6 decimals"),
    ):
        response = client.post(f"{PRODUCT}/FG003/count", data={"quantityCounted": value}, headers=HX)
        assert response.status_code == 422
        assert message in _errors(response.text)[0]
        assert 'aria-invalid="true"' in response.text
    assert _rows(seeded) == before
    done = client.post(f"{PRODUCT}/FG003/count", data={"quantityCounted": "60"}, headers=HX)
    assert done.status_code == 200
    assert "QOH −2, ATP −2." in done.text
    assert _numbers(done.text).items() >= {"qoh": "60", "atp": "60"}.items()
    plain = client.post(f"{PRODUCT}/FG003/count", data={"quantityCounted": "61"}, follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"].startswith(f"{PRODUCT}/FG003?done=Count+PI")


def test_a_variance_takes_a_reason_from_the_list(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store", user="ann")
    page = client.get(f"{PRODUCT}/FG001").text
    assert '<option value="VAR_DAMAGED"' in page
    before = _rows(seeded)
    unknown = client.post(
        f"{PRODUCT}/FG001/variance", data={"quantity": "-2", "varianceReasonId": "VAR_NOPE"}, headers=HX
    )
    assert unknown.status_code == 422
    assert "Unknown variance reason" in _errors(unknown.text)[0]
    other = client.post(
        f"{PRODUCT}/FG001/variance",
        data={"quantity": "-2", "varianceReasonId": "VAR_DAMAGED", "inventoryItemId": "FG002-INV-001"},
        headers=HX,
    )
    assert other.status_code == 422
    assert "not an item of FG001" in _errors(other.text)[0]
    assert _rows(seeded) == before
    done = client.post(
        f"{PRODUCT}/FG001/variance",
        data={
            "quantity": "-2",
            "varianceReasonId": "VAR_DAMAGED",
            "inventoryItemId": "FG001-INV-002",
            "comments": "dropped",
        },
        headers=HX,
    )
    assert done.status_code == 200
    assert _numbers(done.text)["qoh"] == "29"
    history = client.get("/ui/items/FG001-INV-002").text
    newest = history.split("<tbody>")[1].split("</tr>")[0]
    assert "VAR_DAMAGED" in newest
    assert "−2" in newest
    assert "dropped" in newest
    assert "by ann" in newest  # the signed-in token's user


def test_receive_then_reserve_and_cancel(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "admin")
    received = client.post(
        f"{PRODUCT}/FG002/receive",
        data={
            "shipmentId": "SH_W",
            "shipmentItemSeqId": "00001",
            "quantityAccepted": "5",
            "quantityRejected": "1",
            "rejectionReasonId": "SRJ_DAMAGED",
        },
        headers=HX,
    )
    assert received.status_code == 200
    assert "Received 5" in received.text
    assert "1 rejected" in received.text
    assert _numbers(received.text).items() >= {"qoh": "36", "atp": "36"}.items()
    before = _rows(seeded)
    short = client.post(
        f"{PRODUCT}/FG002/reserve",
        data={"orderId": "ORD_W", "orderItemSeqId": "1", "quantity": "99"},
        headers=HX,
    )
    assert short.status_code == 422
    assert "36 available" in short.text
    assert _rows(seeded) == before
    reserved = client.post(
        f"{PRODUCT}/FG002/reserve",
        data={"orderId": "ORD_W", "orderItemSeqId": "1", "quantity": "4"},
        headers=HX,
    )
    assert reserved.status_code == 200
    assert _numbers(reserved.text).items() >= {"qoh": "36", "atp": "32", "reserved": "4"}.items()
    assert "Cancel all of ORD_W/1 (4)</button>" in reserved.text
    line = {"orderId": "ORD_W", "orderItemSeqId": "1"}
    asked = client.post(f"{PRODUCT}/FG002/cancel", data=line, headers=HX)  # the button: a confirm step
    assert asked.status_code == 422
    assert "Nothing was cancelled yet. This cancels all of order line ORD_W/1: 4 reserved here" in asked.text
    assert (
        '<button type="submit" name="confirmed" value="true">Yes, cancel all of ORD_W/1</button>'
        in asked.text
    )
    assert _numbers(asked.text)["reserved"] == "4"
    cancelled = client.post(f"{PRODUCT}/FG002/cancel", data={**line, "confirmed": "true"}, headers=HX)
    assert cancelled.status_code == 200
    assert "4 back in ATP" in cancelled.text
    assert _numbers(cancelled.text).items() >= {"atp": "36", "reserved": "0"}.items()
    again = client.post(f"{PRODUCT}/FG002/cancel", data={**line, "confirmed": "true"}, headers=HX)
    assert again.status_code == 422
    assert "no active reservation" in again.text


def test_the_cancel_form_refuses_an_order_item_of_another_product(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "oms")
    reserved = client.post(
        f"{PRODUCT}/FG001/reserve",
        data={"orderId": "ORD_X", "orderItemSeqId": "1", "quantity": "3"},
        headers=HX,
    )
    assert reserved.status_code == 200
    before = _rows(seeded)
    for headers in (HX, {}):  # htmx, and a plain form post (which would redirect when done)
        other = client.post(
            f"{PRODUCT}/FG002/cancel",
            data={"orderId": "ORD_X", "orderItemSeqId": "1"},
            headers=headers,
            follow_redirects=False,
        )
        assert other.status_code == 422
        assert "Order item ORD_X/1 is not an order item of FG002 here. Nothing was changed." in other.text
    assert _rows(seeded) == before
    with seeded.reading() as session:
        r = OrderItemInventoryReservation
        statuses = session.scalars(select(r.status_id).where(r.order_id == "ORD_X"))
        assert set(statuses) == {"RES_ACTIVE"}
    own = client.post(
        f"{PRODUCT}/FG001/cancel",
        data={"orderId": "ORD_X", "orderItemSeqId": "1", "confirmed": "true"},
        headers=HX,
    )
    assert own.status_code == 200
    assert "3 back in ATP" in own.text


def _confirm_button(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<button type="submit" name="(\w+)" value="(\w+)"[^>]*>([^<]*)</button>', html)


def test_a_variance_below_zero_asks_for_confirmation(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    form = {"inventoryItemId": "FG003-INV-002", "quantity": "-500", "varianceReasonId": "VAR_LOST"}
    assert _confirm_button(client.get(f"{PRODUCT}/FG003").text) == []
    before = _rows(seeded)
    refused = client.post(f"{PRODUCT}/FG003/variance", data=form, headers=HX)
    assert refused.status_code == 422
    # the item as the items table shows it, not its generated id
    below = "The item (no lot, at 0006, received 2024-07-13) has 27 on hand; -500 would take it below zero"
    assert below in refused.text
    assert _confirm_button(refused.text) == [("allowNegative", "true", "Log anyway, below zero")]
    assert 'value="-500"' in refused.text  # the confirm button resends what was typed
    assert _rows(seeded) == before
    assert _numbers(refused.text)["qoh"] == "62"
    confirmed = client.post(f"{PRODUCT}/FG003/variance", data={**form, "allowNegative": "true"}, headers=HX)
    assert confirmed.status_code == 200
    logged = "Variance of -500 (Lost) logged on the item (no lot, at 0006, received 2024-07-13): QOH -473"
    assert logged in confirmed.text
    assert "FG003-INV-002 has" not in refused.text
    assert "on FG003-INV-002" not in confirmed.text
    assert _numbers(confirmed.text)["qoh"] == "-438"
    assert _confirm_button(confirmed.text) == []


def test_a_shipment_line_received_again_asks_for_confirmation(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    form = {"shipmentId": "SH_TWICE", "shipmentItemSeqId": "00001", "quantityAccepted": "5"}
    assert client.post(f"{PRODUCT}/FG002/receive", data=form, headers=HX).status_code == 200
    before = _rows(seeded)
    refused = client.post(f"{PRODUCT}/FG002/receive", data=form, headers=HX)
    assert refused.status_code == 422
    assert "Shipment SH_TWICE line 00001 was received already (5 accepted, 0 rejected)" in refused.text
    assert _confirm_button(refused.text) == [("additional", "true", "Receive again, additional")]
    assert _rows(seeded) == before
    confirmed = client.post(f"{PRODUCT}/FG002/receive", data={**form, "additional": "true"}, headers=HX)
    assert confirmed.status_code == 200
    assert "Received 5" in confirmed.text
    assert _numbers(confirmed.text).items() >= {"qoh": "41", "atp": "41"}.items()
    # a variance refused for another reason offers no override
    bad = client.post(
        f"{PRODUCT}/FG002/variance", data={"quantity": "-1", "varianceReasonId": "X"}, headers=HX
    )
    assert (bad.status_code, _confirm_button(bad.text)) == (422, [])


def _upload(client: TestClient, body: str) -> Any:
    return client.post("/ui/resets", files={"file": ("erp.csv", body.encode(), "text/csv")}, headers=HX)
