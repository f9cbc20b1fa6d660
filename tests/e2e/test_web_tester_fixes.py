"""What an outside tester found on the product page (issue 20 L2, L3, L4, L10), over HTTP on both
databases: the Reserve form's wording, items named as staff see them, a returned item emptied by
inspection, rejection reasons checked at their field."""

import re
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _errors, _rows, _upload


def _notice(html: str) -> str:
    found = re.findall(r'<p class="notice" role="status">([^<]*)</p>', html)
    assert len(found) == 1, found
    return found[0]


def _drain(client: TestClient, product_id: str) -> None:
    """Reserve all of the product's ATP for another order: none is available after."""
    atp = client.get(f"/v1/availability?facilityId=FACILITY_1&productId={product_id}").json()
    body = {
        "orderId": "DRAIN",
        "orderItemSeqId": "00001",
        "productId": product_id,
        "facilityId": "FACILITY_1",
        "quantity": atp["availableToPromiseTotal"],
    }
    assert client.post("/v1/reservations", json=body).status_code == 201


def _reserve(client: TestClient, fill: str, quantity: str = "1", order: str = "O20") -> str:
    sent = {"orderId": order, "orderItemSeqId": "00001", "quantity": quantity, "fill": fill}
    return client.post(f"{PRODUCT}/FG002/reserve", data=sent, headers=HX).text


def test_reserving_when_none_is_available_says_what_happened(seeded: Database, client: TestClient) -> None:
    _drain(client, "FG002")
    _as(client, seeded, "admin")
    before = _rows(seeded)
    for fill in ("ALL_OR_NOTHING", "PARTIAL"):  # nothing reserved: a refusal at the quantity, no advice
        refused = _reserve(client, fill)
        (error,) = _errors(refused)
        assert error == (
            "Cannot reserve 1: none available. Nothing was reserved. To promise it anyway, choose "
            "“Reserve all, backorder the rest”: receiving fills it first."
        )
        assert "lower the quantity" not in refused
        assert "Reserved 0" not in refused
        assert 'role="status"' not in refused
    assert _rows(seeded) == before
    backordered = _reserve(client, "BACKORDER")
    assert _notice(backordered) == (
        "Backordered 1 for order O20/00001. Backordered units have no stock behind them yet; receiving "
        "fills them first. Order line O20/00001 now holds 1 here in total (1 of it backordered)."
    )
    assert "Reserved 0" not in backordered


def test_reserving_in_part_says_reserved_and_not_reserved(seeded: Database, client: TestClient) -> None:
    atp = Decimal(
        str(
            client.get("/v1/availability?facilityId=FACILITY_1&productId=FG002").json()[
                "availableToPromiseTotal"
            ]
        )
    )
    _as(client, seeded, "admin")
    asked = atp + 2
    partial = _reserve(client, "PARTIAL", str(asked), "O21")
    assert _notice(partial).startswith(f"Reserved {atp} for order O21/00001. 2 not available, not reserved.")
    both = _reserve(client, "BACKORDER", "3", "O22")
    assert _notice(both).startswith("Backordered 3 for order O22/00001.")  # O21 took what was left
    refused = _reserve(client, "ALL_OR_NOTHING", "2", "O23")
    assert "lower the quantity" not in refused


def test_a_receipt_names_the_item_by_lot_and_location(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    sent = {
        "shipmentId": "PO_L3",
        "shipmentItemSeqId": "00001",
        "quantityAccepted": "2",
        "lotId": "LOT-20",
        "locationSeqId": "0006",
    }
    done = client.post(f"{PRODUCT}/FG002/receive", data=sent, headers=HX)
    assert done.status_code == 200, done.text
    notice = _notice(done.text)
    assert re.fullmatch(
        r"Received 2 into the item \(lot LOT-20, at 0006, received \d{4}-\d\d-\d\d\) from shipment PO_L3\.",
        notice,
    ), notice
    assert "II" not in notice


def test_the_receive_form_checks_the_rejection_reason(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "store")
    line = {"shipmentId": "PO_L10", "shipmentItemSeqId": "00001", "quantityAccepted": "2"}
    before = _rows(seeded)
    for sent, message in (
        ({"quantityRejected": "1"}, "Choose why the units were rejected."),
        ({"quantityRejected": "1", "rejectionReasonId": "SRJ_BROKEN"}, "Choose one of the listed reasons."),
        (
            {"rejectionReasonId": "SRJ_DAMAGED"},
            "No unit is rejected: leave this empty, or enter how many units you reject.",
        ),
    ):
        refused = client.post(f"{PRODUCT}/FG002/receive", data={**line, **sent}, headers=HX)
        assert refused.status_code == 422
        assert 'id="receive-rejectionReasonId-error"' in refused.text
        assert _errors(refused.text) == [message]
    assert _rows(seeded) == before
    good = {**line, "quantityRejected": "1", "rejectionReasonId": "SRJ_DAMAGED"}
    assert client.post(f"{PRODUCT}/FG002/receive", data=good, headers=HX).status_code == 200


def test_an_inspected_return_leaves_no_item_waiting_for_inspection(
    seeded: Database, client: TestClient
) -> None:
    sale = {
        "orderId": "R20",
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 2}],
    }
    assert client.post("/v1/pos-sales", json=sale).status_code == 201
    back = {
        "returnId": "RET20",
        "orderId": "R20",
        "facilityId": "FACILITY_1",
        "items": [
            {"returnItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG002", "returnQuantity": 2}
        ],
    }
    assert client.post("/v1/returns", json=back).status_code == 201
    _as(client, seeded, "viewer")
    waiting = client.get(f"{PRODUCT}/FG002").text
    assert "Returned, not inspected</span>" in waiting
    assert "Returned, nothing left to inspect" not in waiting
    inspected = client.post("/v1/returns/RET20/items/00001/inspect", json={"outcome": "AVAILABLE"})
    assert inspected.status_code == 200, inspected.text
    page = client.get(f"{PRODUCT}/FG002").text
    assert "Returned, not inspected</span>" not in page
    emptied = '<span class="coded" title="INV_RETURNED">Returned, nothing left to inspect</span>'
    assert f'<td data-label="Status" data-col="status">{emptied}</td>' in page


def _file_error(html: str) -> str:
    found = re.search(r'<p class="error" id="reset-file-error" >([^<]*)</p>', html)
    assert found is not None, html
    return found.group(1)


def test_the_erp_upload_tells_its_problems_plainly(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "admin")
    before = _rows(seeded)
    header = "facilityId,productId,quantityOnHand,availableToPromise\n"
    latin1 = (
        header + "FACILITY_1,FG001,3,\nFACILITY_1,FG002,4,\n"
    ).encode() + "FACILITY_1,Caf\u00e9,1,\n".encode("latin-1")
    refused = client.post("/ui/resets", files={"file": ("erp.csv", latin1, "text/csv")}, headers=HX)
    assert refused.status_code == 422
    assert _file_error(refused.text) == (
        "The CSV is not UTF-8 text: line 4, byte 15 (0xE9) cannot be read. Save the file as UTF-8 "
        "(in a spreadsheet: “CSV UTF-8”) and send it again. Nothing was changed."
    )
    bad_header = _upload(client, "facility,product,qoh\nFACILITY_1,FG001,3\n")
    assert bad_header.status_code == 422
    assert _file_error(bad_header.text).endswith("got facility,product,qoh. Nothing was changed.")
    assert _rows(seeded) == before
    lines = _upload(
        client,
        header + "FACILITY_1,FG001,,\nFACILITY_1,FG002,1,2\nFACILITY_1,FG003,-3,\nFACILITY_1,FG003,x,\n",
    )
    problems = re.findall(r'<td><span title="([a-z_]+)">([^<]*)</span></td>', lines.text)
    assert problems == [
        (
            "no_quantity",
            "No quantity: give either the quantity on hand or the quantity available to promise.",
        ),
        (
            "both_quantities",
            "Two quantities: give either the quantity on hand or the quantity available to promise, "
            "not both.",
        ),
        (
            "negative_quantity",
            "The quantity on hand is below zero (-3): a reset sets a quantity that cannot be below zero.",
        ),
        ("invalid_quantity", "The quantity on hand is not a number: &#39;x&#39;."),
    ]
    assert "quantityOnHand or availableToPromise" not in lines.text.split("<table", 1)[1]


def test_the_procedures_say_who_has_the_reserve_form(seeded: Database, client: TestClient) -> None:
    """docs/procedures.md §4 once offered the Reserve form to store staff, whose page hides it."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "procedures.md").read_text()
    reservation = docs.split("## 4. Reservation", 1)[1].split("## 5.", 1)[0]
    assert "for store staff taking a" not in reservation
    assert "shown only to the roles that may reserve: `oms` and `admin`" in reservation
    for role, shown in (("store", False), ("oms", True), ("admin", True), ("viewer", False)):
        page = _as(client, seeded, role).get(f"{PRODUCT}/FG001").text
        assert ('action="/ui/facilities/FACILITY_1/products/FG001/reserve"' in page) is shown, role
