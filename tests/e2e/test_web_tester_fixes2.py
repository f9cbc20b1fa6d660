"""What an outside tester found on the pages in the second round (issue 20 F1, F3, F7), over HTTP on
both databases: a count that changes several items, a product with no minimum stock, plain refusals."""

import re
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import update

from stockledger.core.db import Database
from stockledger.ledger.models import ProductFacility
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _errors, _numbers, _rows
from tests.e2e.test_web_tester_fixes import _drain, _notice


def _items(client: TestClient, product_id: str) -> dict[str, Decimal]:
    found = client.get(f"/v1/inventory-items?facilityId=FACILITY_1&productId={product_id}").json()
    return {i["inventoryItemId"]: Decimal(str(i["quantityOnHandTotal"])) for i in found["items"]}


def test_a_count_that_changes_several_items_says_what_changed_on_each(
    seeded: Database, client: TestClient
) -> None:
    before = _items(client, "FG002")
    assert set(before) == {"FG002-INV-001", "FG002-INV-002"}
    assert min(before.values()) > 2
    assert max(before.values()) < sum(before.values()) - 2
    _as(client, seeded, "store")
    done = client.post(f"{PRODUCT}/FG002/count", data={"quantityCounted": "2"}, headers=HX)
    assert done.status_code == 200, done.text
    notice = _notice(done.text)
    after = _items(client, "FG002")
    assert sum(after.values()) == 2
    changed = {item: after[item] - before[item] for item in before if after[item] != before[item]}
    assert len(changed) == 2, changed  # the difference is more than any one item holds
    assert notice.startswith("Count PI")
    assert ": 2 counted. Changed the item (no lot, at 0003, received 2024-07-08): QOH −" in notice, notice
    assert "the item (no lot, at 0007, received 2024-07-11): QOH −" in notice, notice
    assert "FG002-INV" not in notice
    assert _numbers(done.text)["qoh"] == "2"
    plain = client.post(f"{PRODUCT}/FG002/count", data={"quantityCounted": "1"}, follow_redirects=False)
    assert plain.status_code == 303


def test_a_count_of_a_product_with_several_lots_names_each_lot(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    for n, lot in enumerate(("LOT-A", "LOT-B", "LOT-C"), 1):
        sent = {"shipmentId": "PO_F1", "shipmentItemSeqId": f"0000{n}", "quantityAccepted": "5", "lotId": lot}
        assert client.post(f"{PRODUCT}/FG003/receive", data=sent, headers=HX).status_code == 200
    total = sum(_items(client, "FG003").values())
    rows = _rows(seeded)
    done = client.post(f"{PRODUCT}/FG003/count", data={"quantityCounted": "3"}, headers=HX)
    assert done.status_code == 200, done.text
    notice = _notice(done.text)
    assert sum(_items(client, "FG003").values()) == 3
    named = re.findall(r"the item \(([^)]*)\): QOH −([\d,.]+)", notice)
    assert len(named) >= 2, notice
    assert sum(Decimal(q.replace(",", "")) for _, q in named) == total - 3
    assert _rows(seeded)[0] == rows[0] + len(named)
    same = client.post(f"{PRODUCT}/FG003/count", data={"quantityCounted": "3"}, headers=HX)
    assert same.status_code == 200
    assert _notice(same.text).endswith(": 3 counted. It matched the stock: nothing changed.")


def test_a_product_with_no_minimum_is_never_below_minimum(seeded: Database, client: TestClient) -> None:
    with seeded.transaction() as session:
        session.execute(
            update(ProductFacility)
            .where(ProductFacility.facility_id == "FACILITY_1", ProductFacility.product_id == "FG002")
            .values(minimum_stock=None)
        )
    atp = client.get("/v1/availability?facilityId=FACILITY_1&productId=FG002").json()[
        "availableToPromiseTotal"
    ]
    variance = {
        "inventoryItemId": "FG002-INV-002",
        "quantity": -(atp + 3),
        "varianceReasonId": "VAR_LOST",
        "allowNegative": True,
    }
    assert client.post("/v1/variances", json=variance).status_code == 200, variance
    _as(client, seeded, "viewer")
    page = client.get(f"{PRODUCT}/FG002")
    assert page.status_code == 200
    assert _numbers(page.text)["minimum"] == "–"
    assert _numbers(page.text)["atp"] == "-3"
    assert "below minimum</span>" not in page.text
    assert "below-min" not in page.text
    stock = client.get("/ui/facilities/FACILITY_1?q=FG002")
    row = re.search(r'<tr class="([^"]*)" data-product-id="FG002">(.*?)</tr>', stock.text, re.S)
    assert row is not None
    assert row.group(1) == ""
    assert 'data-col="minimum">–<' in row.group(2)
    with seeded.transaction() as session:  # with a minimum of 0, ATP -3 is below it
        session.execute(
            update(ProductFacility)
            .where(ProductFacility.facility_id == "FACILITY_1", ProductFacility.product_id == "FG002")
            .values(minimum_stock=0)
        )
    marked = client.get(f"{PRODUCT}/FG002").text
    assert _numbers(marked)["minimum"] == "0"
    assert '<span class="tag low">below minimum</span>' in marked


def _summary(html: str) -> str:
    found = re.findall(r'<p class="error-summary" role="alert">([^<]*)</p>', html)
    assert len(found) == 1, found
    return found[0]


def test_receiving_against_a_sales_shipment_says_so_in_staff_words(
    seeded: Database, client: TestClient
) -> None:
    sale = {
        "orderId": "POS-F7",
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 1}],
    }
    sold = client.post("/v1/pos-sales", json=sale)
    assert sold.status_code == 201, sold.text
    shipment = sold.json()["shipmentId"]
    _as(client, seeded, "store")
    before = _rows(seeded)
    sent = {"shipmentId": shipment, "shipmentItemSeqId": "00001", "quantityAccepted": "2"}
    refused = client.post(f"{PRODUCT}/FG002/receive", data=sent, headers=HX)
    assert refused.status_code == 422
    assert _errors(refused.text) == [
        f"Shipment {shipment} is one this facility sends out (a shipment of an order or a till sale), not a "
        "delivery to receive. Enter the id of the purchase shipment that arrived."
    ]
    assert 'id="receive-shipmentId-error"' in refused.text
    assert _summary(refused.text) == "Nothing was changed: correct the fields marked below."
    assert _rows(seeded) == before


def test_reserving_when_none_is_available_does_not_ask_to_correct_fields(
    seeded: Database, client: TestClient
) -> None:
    _drain(client, "FG002")
    _as(client, seeded, "admin")
    sent = {"orderId": "O-F7", "orderItemSeqId": "00001", "quantity": "1", "fill": "ALL_OR_NOTHING"}
    refused = client.post(f"{PRODUCT}/FG002/reserve", data=sent, headers=HX)
    assert refused.status_code == 422
    assert "correct the fields marked below" not in refused.text
    assert (
        _summary(refused.text)
        == "Nothing was reserved: there is not enough stock for this quantity (see below)."
    )
    (error,) = _errors(refused.text)
    assert error.startswith("Cannot reserve 1: none available. Nothing was reserved.")
