"""CSV exports over HTTP on both databases: `Accept: text/csv` (or `format=csv`) on the stock view
and on an item's details; RFC 4180, a header row, the JSON list's filters and scope, every row
read in keyset chunks."""

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from stockledger.core import csv_export
from stockledger.core.db import Database
from tests.e2e.test_shipping_api import problem
from tests.scope_support import bearer, second_facility

FAC = "FACILITY_1"
CSV = {"Accept": "text/csv"}


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_stock_view_as_csv_holds_the_json_rows(seeded_client: TestClient) -> None:
    answer = seeded_client.get("/v1/product-facility-inventory", params={"facilityId": FAC}, headers=CSV)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="product-facility-inventory.csv"'
    header, *rows = _rows(answer.text)
    assert header[:7] == [
        "facilityId",
        "productId",
        "inventoryItemId",
        "minimumStock",
        "quantityOnHandTotal",
        "availableToPromiseTotal",
        "computedInventoryCount",
    ]
    assert header[7:] == [
        "notPromisableOnHold",
        "notPromisableReturned",
        "notPromisableDefective",
        "notPromisableExpired",
        "notPromisableOther",
    ]
    listed = seeded_client.get("/v1/product-facility-inventory", params={"facilityId": FAC}).json()["items"]
    assert rows == [
        [
            *(str(r[k]) for k in ("facilityId", "productId", "inventoryItemId", "minimumStock")),
            *(
                str(r[k])
                for k in ("quantityOnHandTotal", "availableToPromiseTotal", "computedInventoryCount")
            ),
            *(str(v) for v in r["notPromisable"].values()),
        ]
        for r in listed
    ]
    assert answer.text.endswith("\r\n")
    assert answer.text.count("\r\n") == 1 + len(listed)
    linked = seeded_client.get("/v1/product-facility-inventory", params={"facilityId": FAC, "format": "csv"})
    assert linked.text == answer.text


def test_json_stays_the_answer_unless_csv_is_asked_first(seeded_client: TestClient) -> None:
    for accept in ("application/json, text/csv", "*/*", "text/html"):
        answer = seeded_client.get("/v1/product-facility-inventory", headers={"Accept": accept})
        assert answer.headers["content-type"] == "application/json", accept
    asked = seeded_client.get(
        "/v1/product-facility-inventory", headers={"Accept": "text/csv;q=0.9, */*;q=0.1"}
    )
    assert asked.headers["content-type"].startswith("text/csv")
    forced = seeded_client.get("/v1/product-facility-inventory?format=json", headers=CSV)
    assert forced.headers["content-type"] == "application/json"
    problem(seeded_client.get("/v1/product-facility-inventory?format=xml"), 422, "validation_failed")


def test_a_scoped_token_exports_its_facilities_only(seeded_client: TestClient, seeded: Database) -> None:
    second_facility(seeded)
    scoped = bearer(seeded, "viewer", ["FACILITY_2"]) | CSV
    _, *rows = _rows(seeded_client.get("/v1/product-facility-inventory", headers=scoped).text)
    assert [(r[0], r[1]) for r in rows] == [("FACILITY_2", "FG001"), ("FACILITY_2", "FG002")]
    refused = seeded_client.get("/v1/product-facility-inventory", params={"facilityId": FAC}, headers=scoped)
    problem(refused, 403, "forbidden")
    item = seeded_client.get("/v1/inventory-items/FG001-INV-001/details", headers=scoped)
    problem(item, 403, "forbidden")
    problem(seeded_client.get("/v1/inventory-items/NO_SUCH/details", headers=CSV), 404, "not_found")


def test_an_items_details_as_csv_quote_as_rfc_4180_says(seeded_client: TestClient) -> None:
    comment = 'dropped, "badly"\nsecond line'
    variance = {"inventoryItemId": "FG003-INV-001", "quantity": -1, "varianceReasonId": "VAR_DAMAGED"}
    assert seeded_client.post("/v1/variances", json=variance | {"comments": comment}).status_code == 200
    answer = seeded_client.get("/v1/inventory-items/FG003-INV-001/details", headers=CSV)
    assert answer.status_code == 200, answer.text
    assert '"dropped, ""badly""\nsecond line"' in answer.text
    header, *rows = _rows(answer.text)
    listed = seeded_client.get("/v1/inventory-items/FG003-INV-001/details").json()["items"]
    assert header == list(listed[0])
    assert [r[header.index("inventoryItemDetailSeqId")] for r in rows] == [
        d["inventoryItemDetailSeqId"] for d in listed
    ]
    last = dict(zip(header, rows[-1], strict=True))
    assert (last["description"], last["quantityOnHandDiff"], last["orderId"]) == (comment, "-1", "")
    assert last["effectiveDate"] == listed[-1]["effectiveDate"]


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_every_row_is_exported_once_across_chunks(
    seeded_client: TestClient, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    for n in range(4):
        variance = {"inventoryItemId": "FG001-INV-002", "quantity": 1, "varianceReasonId": "VAR_FOUND"}
        assert seeded_client.post("/v1/variances", json=variance | {"comments": f"v{n}"}).status_code == 200
    whole = seeded_client.get("/v1/inventory-items/FG001-INV-002/details", headers=CSV).text
    stock = seeded_client.get("/v1/product-facility-inventory", headers=CSV).text
    state = seeded_client.app.state  # type: ignore[attr-defined]
    monkeypatch.setattr(state, "settings", state.settings.model_copy(update={"csv_export_chunk_rows": chunk}))
    monkeypatch.setattr(csv_export, "FLUSH_BYTES", 40 * chunk)  # the body sent in several pieces
    assert seeded_client.get("/v1/inventory-items/FG001-INV-002/details", headers=CSV).text == whole
    assert seeded_client.get("/v1/product-facility-inventory", headers=CSV).text == stock
    assert len(_rows(whole)) == 1 + 1 + 4
    assert len(_rows(stock)) == 1 + 3


def test_the_stock_and_history_pages_link_to_their_csv(seeded: Database, client: TestClient) -> None:
    """The links work with the pages' sign-in cookie (a /v1 read), without an Authorization header."""
    del client.headers["Authorization"]
    client.cookies.set("stockledger_token", bearer(seeded, "viewer", [FAC])["Authorization"].split()[1])
    for page, first_column in (
        (f"/ui/facilities/{FAC}", "facilityId"),
        ("/ui/items/FG001-INV-001", "inventoryItemId"),
    ):
        html = client.get(page)
        assert html.status_code == 200, html.text
        [link] = re.findall(r'href="([^"]+(?:format=csv|stock\.csv[^"]*))" download', html.text)
        export = client.get(link.replace("&amp;", "&"))
        assert export.status_code == 200, export.text
        assert export.headers["content-type"] == "text/csv; charset=utf-8"
        assert _rows(export.text)[0][0] == first_column
        assert len(_rows(export.text)) > 1


def _stock_link(client: TestClient, page: str) -> str:
    html = client.get(page)
    assert html.status_code == 200, html.text
    [link] = re.findall(r'href="([^"]+)" download>Download', html.text)
    return link.replace("&amp;", "&")


def test_the_stock_pages_csv_follows_its_filter_search_and_sort(seeded: Database, client: TestClient) -> None:
    """The export holds every row the page lists under its view (low stock only, a search, a sort
    by a column either way), in the page's order: not the whole facility in product order."""
    del client.headers["Authorization"]
    client.cookies.set("stockledger_token", bearer(seeded, "viewer", [FAC])["Authorization"].split()[1])
    line = {"orderId": "LOW", "orderItemSeqId": "00001", "facilityId": FAC, "productId": "FG001"}
    atp = client.get("/v1/availability", params={"facilityId": FAC, "productId": "FG001"}).json()
    reserved = client.post(  # FG001's ATP under its minimum (10): a computed count under zero
        "/v1/reservations",
        json=line | {"quantity": atp["availableToPromiseTotal"] - 5},
        headers=bearer(seeded, "admin"),
    )
    assert reserved.status_code == 201, reserved.text
    views = {
        f"/ui/facilities/{FAC}": None,
        f"/ui/facilities/{FAC}?belowMinimum=true": {"FG001"},
        f"/ui/facilities/{FAC}?sort=qoh&dir=desc": None,
        f"/ui/facilities/{FAC}?q=FG00&sort=computed": None,
    }
    for page, only in views.items():
        link = _stock_link(client, page)
        assert link.startswith(f"/ui/facilities/{FAC}/stock.csv"), link
        export = client.get(link)
        assert export.status_code == 200, export.text
        assert export.headers["content-type"] == "text/csv; charset=utf-8"
        header, *rows = _rows(export.text)
        assert header[:4] == ["facilityId", "productId", "productName", "inventoryItemId"]
        shown = re.findall(r'data-product-id="([^"]+)"', client.get(page).text)
        assert [r[1] for r in rows] == shown, page  # the page's rows, in its order
        if only is not None:
            assert {r[1] for r in rows} == only
    by_qoh = _rows(client.get(_stock_link(client, f"/ui/facilities/{FAC}?sort=qoh&dir=desc")).text)
    column = by_qoh[0].index("quantityOnHandTotal")
    qoh = [float(row[column]) for row in by_qoh[1:]]
    assert qoh == sorted(qoh, reverse=True)
    assert len(qoh) > 1


def test_the_stock_pages_csv_refuses_a_facility_out_of_scope(seeded: Database, client: TestClient) -> None:
    del client.headers["Authorization"]
    second_facility(seeded)
    client.cookies.set(
        "stockledger_token", bearer(seeded, "viewer", ["FACILITY_2"])["Authorization"].split()[1]
    )
    refused = client.get(f"/ui/facilities/{FAC}/stock.csv")
    assert refused.status_code == 403
    assert not refused.headers["content-type"].startswith("text/csv")


EXPORTS = (
    ("/v1/product-facility-inventory.csv", "product_facility"),
    ("/v1/inventory-items/FG001-INV-001/details.csv", "inventory_item_detail"),
    ("/v1/product-facility-inventory?facilityId=FACILITY_1&format=csv", "product_facility"),
)


@pytest.mark.parametrize(("path", "table"), EXPORTS)
def test_head_on_an_export_answers_its_headers_without_reading_a_row(
    seeded_client: TestClient, path: str, table: str
) -> None:
    """HEAD reads no row (it read every one and dropped the body); GET reads them."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = seeded_client.app.state.db.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", record)
    try:
        head = seeded_client.head(path)
        read_on_head = [s for s in statements if f"FROM {table}" in s]
        statements.clear()
        got = seeded_client.get(path)
        read_on_get = [s for s in statements if f"FROM {table}" in s]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (head.status_code, got.status_code) == (200, 200)
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"] == "text/csv; charset=utf-8"
    assert head.headers["content-disposition"] == got.headers["content-disposition"]
    assert read_on_head == []
    assert read_on_get != []
    assert len(_rows(got.text)) > 1
