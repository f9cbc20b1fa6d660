"""Issue 20 item 5 on the staff pages, over HTTP on both databases: refusals shown as pages, fields
marked, one reservation per rendered form, friendly answers to bad addresses."""

from fastapi.testclient import TestClient

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _errors, _rows

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
