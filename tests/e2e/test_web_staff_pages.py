"""Issue 20 on the staff pages, over HTTP on both databases: sorting and the low-stock view, staff
wording (codes as tooltips), store reasons, every missing field named, backorders, running balances."""

import re

from fastapi.testclient import TestClient

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _errors, _numbers, _product_ids, _rows, _upload

STOCK = "/ui/facilities/FACILITY_1"


def _sorted(client: TestClient, **params: str) -> list[str]:
    response = client.get(STOCK, params=params)
    assert response.status_code == 200
    return _product_ids(response.text)


def test_the_stock_page_sorts_by_any_column_and_shows_the_low_stock(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "store")  # seed: QOH = ATP 31, 31, 62; minimum 10, 15, 20
    assert _sorted(client) == ["FG001", "FG002", "FG003"]
    assert _sorted(client, sort="product", dir="desc") == ["FG003", "FG002", "FG001"]
    assert _sorted(client, sort="qoh", dir="desc")[0] == "FG003"
    assert _sorted(client, sort="minimum", dir="desc") == ["FG003", "FG002", "FG001"]
    assert _sorted(client, sort="computed") == ["FG002", "FG001", "FG003"]  # 16, 21, 42
    page = client.get(STOCK, params={"sort": "computed"}).text
    assert re.search(r'aria-sort="ascending">\s*<a class="sort" href="[^"]*sort=computed&amp;dir=desc"', page)
    assert _sorted(client, belowMinimum="true") == []
    logged = client.post(
        f"{PRODUCT}/FG002/variance", data={"quantity": "-20", "varianceReasonId": "VAR_DAMAGED"}, headers=HX
    )
    assert logged.status_code == 200  # FG002: ATP 11 under a minimum of 15
    assert _sorted(client, belowMinimum="true") == ["FG002"]
    assert _sorted(client, belowMinimum="true", q="fg00") == ["FG002"]
    assert _sorted(client, sort="atp", belowMinimum="true") == ["FG002"]
    assert "Products below minimum stock" in client.get(STOCK, params={"belowMinimum": "true"}).text
    assert _sorted(client, sort="nope", dir="sideways") == ["FG001", "FG002", "FG003"]  # ignored


def test_sorted_pages_walk_every_product_once(seeded: Database, client: TestClient) -> None:
    products = [{"productId": f"P{n:04d}", "productName": f"Widget {n}"} for n in range(120)]
    with seeded.transaction() as session:
        import_document(session, {"facilityId": "BIG", "facilityName": "Big warehouse", "products": products})
    _as(client, seeded, "viewer")
    seen: list[str] = []
    url: str | None = "/ui/facilities/BIG?sort=product&dir=desc"
    while url:
        html = client.get(url).text
        seen += _product_ids(html)
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"P{n:04d}" for n in reversed(range(120))]


def test_store_staff_are_not_offered_the_erp_reason(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "admin")
    assert 'value="VAR_EXT_RESET"' in client.get(f"{PRODUCT}/FG001").text
    _as(client, seeded, "store")
    page = client.get(f"{PRODUCT}/FG001").text
    assert 'value="VAR_DAMAGED"' in page
    assert ">Damaged</option>" in page  # the staff wording, not the code
    assert 'value="VAR_EXT_RESET"' not in page
    before = _rows(seeded)
    refused = client.post(
        f"{PRODUCT}/FG001/variance", data={"quantity": "-1", "varianceReasonId": "VAR_EXT_RESET"}, headers=HX
    )
    assert refused.status_code == 422
    assert "for the ERP sync" in refused.text
    counted = client.post(
        f"{PRODUCT}/FG001/count",
        data={"quantityCounted": "3", "varianceReasonId": "VAR_EXT_RESET"},
        headers=HX,
    )
    assert counted.status_code == 422
    assert "for the ERP sync" in counted.text
    assert _rows(seeded) == before


def test_an_empty_form_names_every_missing_field(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    before = _rows(seeded)
    receive = client.post(f"{PRODUCT}/FG001/receive", data={"shipmentItemSeqId": "00001"}, headers=HX)
    assert receive.status_code == 422
    assert re.search(r'id="receive-shipmentId-error">Enter the shipment id', receive.text)
    assert re.search(r'id="receive-quantityAccepted-error">Enter how many units', receive.text)
    variance = client.post(f"{PRODUCT}/FG001/variance", data={}, headers=HX)
    assert variance.status_code == 422
    assert len(_errors(variance.text)) == 2  # the quantity and the reason, both at once
    count = client.post(f"{PRODUCT}/FG001/count", data={}, headers=HX)
    assert _errors(count.text) == ["Enter the quantity you counted."]
    _as(client, seeded, "admin")
    reserve = client.post(f"{PRODUCT}/FG001/reserve", data={"orderItemSeqId": "00001"}, headers=HX)
    assert _errors(reserve.text) == ["Enter the order id.", "Enter how many units to reserve."]
    assert _rows(seeded) == before
    received = client.post(
        f"{PRODUCT}/FG001/receive",
        data={
            "shipmentId": "SH_LOC",
            "shipmentItemSeqId": "00001",
            "quantityAccepted": "2",
            "quantityRejected": "1",
            "rejectionReasonId": "SRJ_DAMAGED",
            "locationSeqId": "NOPE",
        },
        headers=HX,
    )
    assert received.status_code == 422  # the location must be one of the facility's
    assert _rows(seeded) == before


def test_a_short_reservation_says_how_many_are_available_and_a_backorder_how_many_wait(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "admin")
    order = {"orderId": "ORD_B", "orderItemSeqId": "00001", "quantity": "40"}
    short = client.post(f"{PRODUCT}/FG002/reserve", data=order, headers=HX)
    assert short.status_code == 422
    message = re.search(r'id="reserve-quantity-error">([^<]*)<', short.text)
    assert message is not None
    assert message.group(1).startswith("Cannot reserve 40: only 31 available. Nothing was reserved.")
    assert "line(s)" not in short.text
    backorder = client.post(f"{PRODUCT}/FG002/reserve", data={**order, "fill": "BACKORDER"}, headers=HX)
    assert backorder.status_code == 200
    numbers = _numbers(backorder.text)
    assert (numbers["reserved"], numbers["backordered"]) == ("40", "9")
    assert 'data-col="backordered">9<' in backorder.text
    assert 'data-why="reserved for orders"' in backorder.text  # why ATP is not QOH, by kind


def test_the_history_shows_running_balances_and_reasons_in_words(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "store")
    data = {"shipmentId": "SH_H", "shipmentItemSeqId": "00001", "quantityAccepted": "5"}
    assert client.post(f"{PRODUCT}/FG002/receive", data=data, headers=HX).status_code == 200
    history = client.get("/ui/items/FG002-INV-001").text
    assert re.findall(r'data-col="qoh-after">([^<]*)<', history)[:2] == ["27", "22"]  # the item: 22 + 5
    assert '<span class="coded" title="RECEIPT">Received</span>' in history
    assert '<span class="coded" title="INV_AVAILABLE">Available</span>' in history
    product = client.get(f"{PRODUCT}/FG002").text
    assert 'title="Item FG002-INV-001"' in product  # the generated id only as a tooltip
    assert re.search(
        r'<tr data-item="FG002-INV-001">\s*<th scope="row"><a [^>]*>No lot · received 20', product
    )
    assert re.search(
        r'<option value="FG002-INV-001"\s*>No lot · Available · ', product
    )  # the select says more


def test_an_erp_reset_upload_applies_the_good_lines_like_the_api(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "store")
    assert client.get("/ui/resets").status_code == 403
    _as(client, seeded, "admin")
    before = _rows(seeded)
    header = "facilityId,productId,quantityOnHand,availableToPromise\n"
    partial = _upload(client, header + "FACILITY_1,FG001,40,\nFACILITY_1,NOPE,5,\nFACILITY_1,FG002,-3,\n")
    assert partial.status_code == 200
    assert "Applied in part: reset IR" in partial.text
    assert _numbers(partial.text) == {"lines": "3", "changed": "1", "unchanged": "0", "failed": "2"}
    assert "Product NOPE not found" in partial.text  # the failed lines listed with their reason
    changed = re.search(r'<tr data-product-id="FG001">(.*?)</tr>', partial.text, re.S)
    assert changed is not None  # what changed: FG001 from 31 to 40
    assert 'data-col="change">+9<' in changed.group(1)
    assert 'data-col="qoh">40<' in changed.group(1)
    assert 'hx-preserve="true"' in partial.text  # the chosen file stays, to fix and send again
    assert _rows(seeded)[0] == before[0] + 1
    assert _numbers(client.get(f"{PRODUCT}/FG001").text)["qoh"] == "40"
    before = _rows(seeded)
    bad_header = _upload(client, "sku,qty\nFG001,4\n")
    assert bad_header.status_code == 422
    assert "header must name" in bad_header.text
    assert 'hx-preserve="true"' in bad_header.text  # an error keeps the chosen file too
    assert _rows(seeded) == before
    _as(client, seeded, "admin", ["OTHER"])
    scoped = _upload(client, header + "FACILITY_1,FG001,40,\n")
    assert scoped.status_code == 422
    assert "may not act on facility FACILITY_1" in scoped.text
    assert _rows(seeded) == before
    _as(client, seeded, "admin")
    applied = _upload(client, header + "FACILITY_1,FG001,42,\nFACILITY_1,FG002,,31\n")
    assert applied.status_code == 200
    assert "Applied: reset IR" in applied.text
    assert 'hx-preserve="true"' not in applied.text  # all applied: the form starts afresh
    assert _rows(seeded)[0] == before[0] + 1  # FG001 moved; FG002 was already 31
    assert _numbers(client.get(f"{PRODUCT}/FG001").text)["qoh"] == "42"
