"""Issue 20 item 5 on the staff pages, over HTTP on both databases: refusals shown as pages, fields
marked, one reservation per rendered form, friendly answers to bad addresses."""

import re
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.ledger.models import OrderItemInventoryReservation
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _errors, _rows, _upload

VARIANCE = {"quantity": "-1", "varianceReasonId": "VAR_DAMAGED"}


def test_a_stale_form_token_is_refused_with_a_page_in_both_ways(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    before = _rows(seeded)
    stale = {"X-CSRF-Token": "0" * 64}
    with_htmx = client.post(f"{PRODUCT}/FG001/variance", data=VARIANCE, headers={**HX, **stale})
    assert with_htmx.status_code == 403
    assert with_htmx.headers["content-type"].startswith("text/html")
    assert "This form has expired: reload the page" in with_htmx.text
    assert (with_htmx.headers["hx-retarget"], with_htmx.headers["hx-reselect"]) == ("#main", "#main")
    del client.headers["X-CSRF-Token"]  # a plain form post, no scripts: the field is the stale one
    plain = client.post(f"{PRODUCT}/FG001/variance", data={**VARIANCE, "csrf_token": "0" * 64})
    assert plain.status_code == 403
    assert plain.headers["content-type"].startswith("text/html")
    assert "This form has expired: reload the page" in plain.text
    assert "hx-retarget" not in plain.headers
    assert _rows(seeded) == before


def test_another_facilitys_form_is_refused_with_a_page(seeded: Database, client: TestClient) -> None:
    with seeded.transaction() as session:
        import_document(session, {"facilityId": "FACILITY_2", "products": [{"productId": "FG001"}]})
    _as(client, seeded, "store", ["FACILITY_1"])
    before = _rows(seeded)
    other = "/ui/facilities/FACILITY_2/products/FG001/variance"
    refused = client.post(other, data=VARIANCE, headers=HX)
    assert refused.status_code == 403
    assert "You are not allowed to change FACILITY_2" in refused.text
    assert refused.headers["hx-retarget"] == "#main"
    assert _rows(seeded) == before


def test_a_zero_quantity_is_marked_at_its_field(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    before = _rows(seeded)
    receipt = {"shipmentId": "SHIP_Z", "shipmentItemSeqId": "00001", "quantityAccepted": "0"}
    for rejected in ("", "0.00"):
        received = client.post(
            f"{PRODUCT}/FG001/receive", data={**receipt, "quantityRejected": rejected}, headers=HX
        )
        assert received.status_code == 422
        assert 'id="receive-quantityAccepted-error"' in received.text
        assert "Enter how many units you accept, more than 0" in _errors(received.text)[0]
    variance = client.post(f"{PRODUCT}/FG001/variance", data={**VARIANCE, "quantity": "-0"}, headers=HX)
    assert variance.status_code == 422
    assert _errors(variance.text) == [
        "A variance of 0 changes nothing: enter the change, for example -2 or 3."
    ]
    assert 'id="variance-quantity-error"' in variance.text
    assert "correct the fields marked below" in variance.text
    assert _rows(seeded) == before


def _form_key(html: str) -> str:
    found = re.search(r'name="formKey" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _reserved(db: Database) -> list[tuple[str, Decimal]]:
    r = OrderItemInventoryReservation
    with db.reading() as session:
        rows = session.execute(select(r.order_id, r.quantity).where(r.status_id == "RES_ACTIVE")).all()
    return sorted((order_id, Decimal(held)) for order_id, held in rows)


def test_one_rendered_reserve_form_reserves_once(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "admin")  # an order desk's role: store staff do not reserve
    key = _form_key(client.get(f"{PRODUCT}/FG001").text)
    sent = {"orderId": "ORD_ONCE", "orderItemSeqId": "00001", "quantity": "2", "formKey": key}
    first = client.post(f"{PRODUCT}/FG001/reserve", data=sent, headers=HX)
    assert first.status_code == 200
    assert (
        "Reserved 2 for order ORD_ONCE/00001. Order line ORD_ONCE/00001 now holds 2 here in total."
        in first.text
    )
    assert _form_key(first.text) != key  # the page after it: a new form
    again = client.post(f"{PRODUCT}/FG001/reserve", data=sent, headers=HX)  # the stale tab
    assert again.status_code == 200
    assert "This form was already sent: nothing more was reserved." in again.text
    plain = client.post(f"{PRODUCT}/FG001/reserve", data=sent, follow_redirects=False)  # no scripts
    assert plain.status_code == 303
    assert "already+sent" in plain.headers["location"]
    other = client.post(f"{PRODUCT}/FG001/reserve", data={**sent, "quantity": "5"}, headers=HX)
    assert other.status_code == 422
    assert "already sent with other values" in other.text
    assert _reserved(seeded) == [("ORD_ONCE", Decimal(2))]
    second = client.post(
        f"{PRODUCT}/FG001/reserve", data={**sent, "formKey": _form_key(first.text)}, headers=HX
    )
    assert second.status_code == 200  # a new form for the same line: a deliberate second reservation
    assert "now holds 4 here in total" in second.text
    assert _reserved(seeded) == [("ORD_ONCE", Decimal(4))]
    damaged = client.post(f"{PRODUCT}/FG001/reserve", data={**sent, "formKey": "x"}, headers=HX)
    assert damaged.status_code == 422
    assert "This form is damaged" in damaged.text
    assert _reserved(seeded) == [("ORD_ONCE", Decimal(4))]


def test_a_refused_reserve_form_may_be_sent_again_corrected(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "admin")  # an order desk's role: store staff do not reserve
    key = _form_key(client.get(f"{PRODUCT}/FG001").text)
    sent = {"orderId": "ORD_FIX", "orderItemSeqId": "00001", "quantity": "100000", "formKey": key}
    refused = client.post(f"{PRODUCT}/FG001/reserve", data=sent, headers=HX)
    assert refused.status_code == 422
    assert _form_key(refused.text) == key  # the same form, its fields kept
    fixed = client.post(f"{PRODUCT}/FG001/reserve", data={**sent, "quantity": "1"}, headers=HX)
    assert fixed.status_code == 200
    assert "now holds 1 here in total" in fixed.text
    assert _reserved(seeded) == [("ORD_FIX", Decimal(1))]


def test_bad_addresses_answer_pages_not_json(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "viewer")
    stock = "/ui/facilities/FACILITY_1"
    for params in ({"sort": "nope"}, {"dir": "up"}, {"belowMinimum": "maybe"}, {"sort": "qoh", "dir": "x"}):
        page = client.get(stock, params=params)
        assert page.status_code == 200, params  # ignored: the default order, every product
        assert page.headers["content-type"].startswith("text/html")
    assert "FG003" in client.get(stock, params={"belowMinimum": "maybe"}).text
    long_search = client.get(stock, params={"q": "x" * 61})
    assert long_search.status_code == 422
    assert long_search.headers["content-type"].startswith("text/html")
    assert "This address has a value the page cannot use (q)" in long_search.text
    unknown = client.get("/ui/items/NO_SUCH_ITEM/history")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "There is no such page" in unknown.text
    api = client.get("/v1/no-such-route")  # the API keeps its problem+json
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    assert client.get("/ui/static/no-such.css").status_code == 404


def test_an_erp_reset_with_no_line_applied_says_nothing_was_applied(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "admin")
    before = _rows(seeded)
    csv = "facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,NOPE,1,\n"
    page = _upload(client, csv)
    assert page.status_code == 200  # the reset is recorded, its failed line listed
    assert "Nothing applied: no line of reset" in page.text
    assert "Applied in part" not in page.text
    assert _rows(seeded) == before


def test_cancel_says_it_ends_the_whole_order_line_and_asks_first(
    seeded: Database, client: TestClient
) -> None:
    _as(client, seeded, "admin")
    sent = {"orderId": "ORD_ALL", "orderItemSeqId": "00001", "quantity": "20"}
    page = client.post(f"{PRODUCT}/FG001/reserve", data=sent, headers=HX).text  # over both of FG001's items
    assert page.count('class="order-line">ORD_ALL/00001</th>') == 2  # reserved on two items
    assert page.count("Cancel all of ORD_ALL/00001 (20)</button>") == 1  # one button for the line
    assert page.count("Cancelled with the line's first row") == 1
    line = {"orderId": "ORD_ALL", "orderItemSeqId": "00001"}
    for headers in (HX, {}):  # htmx, and a plain form post: the same confirm step, nothing cancelled
        asked = client.post(f"{PRODUCT}/FG001/cancel", data=line, headers=headers, follow_redirects=False)
        assert asked.status_code == 422
        assert "This cancels all of order line ORD_ALL/00001: 20 reserved here, on every item." in asked.text
        assert 'name="confirmed" value="true">Yes, cancel all of ORD_ALL/00001</button>' in asked.text
    assert sum(held for _, held in _reserved(seeded)) == 20
    done = client.post(f"{PRODUCT}/FG001/cancel", data={**line, "confirmed": "true"}, headers=HX)
    assert done.status_code == 200
    assert "cancelled: 20 back in ATP" in done.text
    assert _reserved(seeded) == []
