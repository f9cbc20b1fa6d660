"""SPEC §11 Promisable ATP: availability, the view, asOf and reservations promise only
INV_AVAILABLE stock whose lot has not expired; the rest is reported beside it, by kind."""

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.app import StockledgerApp
from stockledger.core.db import Database
from tests.fast_path_support import full_stack_requests
from tests.promisable_support import EXPIRED, FACILITY, FAR, add_item

AVAILABILITY = f"/v1/availability?facilityId={FACILITY}&productId=FG001"
NONE_HELD = {"onHold": 0, "returned": 0, "defective": 0, "expired": 0, "other": 0}


def _availability(client: TestClient, url: str = AVAILABILITY) -> dict[str, Any]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _reserve(client: TestClient, order_id: str, quantity: float, **extra: Any) -> Any:
    body = {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": "FG001",
        "facilityId": FACILITY,
        "quantity": quantity,
        **extra,
    }
    return client.post("/v1/reservations", json=body)


def _order(client: TestClient, order_id: str, quantity: float, **extra: Any) -> Any:
    body = {
        "facilityId": FACILITY,
        "items": [{"orderItemSeqId": "00001", "productId": "FG001", "quantity": quantity}],
        **extra,
    }
    return client.post(f"/v1/orders/{order_id}/reserve", json=body)


def _items_reserved(answer: Any) -> list[str]:
    """The items a reservation took: POST /v1/reservations answers 201, an order's reserve 200."""
    by_order = answer.request.url.path.endswith("/reserve")
    assert answer.status_code == (200 if by_order else 201), answer.text
    body = answer.json()
    lines = body["items"] if by_order else [body]
    return [r["inventoryItemId"] for line in lines for r in line["reservations"]]


def test_on_hold_stock_is_reported_beside_atp_and_never_promised(
    seeded_client: TestClient, seeded: Database
) -> None:
    before = _availability(seeded_client)
    assert before["notPromisable"] == NONE_HELD
    add_item(seeded, "FG001", "FG001-HOLD", 5, status_id="INV_ON_HOLD")
    add_item(seeded, "FG001", "FG001-BAD", 2, status_id="INV_DEFECTIVE")
    add_item(seeded, "FG001", "FG001-RET", 1, status_id="INV_RETURNED")
    add_item(seeded, "FG001", "FG001-ODD", 3, status_id="INV_PROMISED")
    now = _availability(seeded_client)
    assert now["quantityOnHandTotal"] == before["quantityOnHandTotal"] + 11
    assert now["availableToPromiseTotal"] == before["availableToPromiseTotal"]
    assert now["computedInventoryCount"] == before["computedInventoryCount"]
    assert now["notPromisable"] == {**NONE_HELD, "onHold": 5, "defective": 2, "returned": 1, "other": 3}
    atp = now["availableToPromiseTotal"]
    refused = _reserve(seeded_client, "O-HOLD", atp + 1)
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    taken = _reserve(seeded_client, "O-HOLD", atp)
    assert taken.status_code == 201, taken.text
    assert not {"FG001-HOLD", "FG001-BAD", "FG001-RET", "FG001-ODD"} & set(_items_reserved(taken))
    assert _availability(seeded_client)["availableToPromiseTotal"] == 0


def test_the_view_reports_promisable_atp_and_the_rest_by_kind(
    seeded_client: TestClient, seeded: Database
) -> None:
    url = f"/v1/product-facility-inventory?facilityId={FACILITY}&productId=FG001"
    (before,) = seeded_client.get(url).json()["items"]
    add_item(seeded, "FG001", "FG001-HOLD", 5, status_id="INV_ON_HOLD")
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    add_item(seeded, "FG001", "FG001-NEW", 6, expire_date=FAR)
    answer = seeded_client.get(url)
    assert answer.status_code == 200
    (row,) = answer.json()["items"]
    assert row["quantityOnHandTotal"] == before["quantityOnHandTotal"] + 15
    assert row["availableToPromiseTotal"] == before["availableToPromiseTotal"] + 6
    assert row["computedInventoryCount"] == before["computedInventoryCount"] + 6
    assert row["notPromisable"] == {**NONE_HELD, "onHold": 5, "expired": 4}
    same = _availability(seeded_client)
    assert (same["availableToPromiseTotal"], same["notPromisable"]) == (
        row["availableToPromiseTotal"],
        row["notPromisable"],
    )


def test_an_expired_lot_is_neither_promised_nor_reserved_nor_suggested(
    seeded_client: TestClient, seeded: Database
) -> None:
    before = _availability(seeded_client)
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    now = _availability(seeded_client)
    assert now["availableToPromiseTotal"] == before["availableToPromiseTotal"]
    assert now["quantityOnHandTotal"] == before["quantityOnHandTotal"] + 4
    assert now["notPromisable"] == {**NONE_HELD, "expired": 4}
    # FEFO would take the earliest expiry first; the expired lot is skipped
    assert "FG001-OLD" not in _items_reserved(_order(seeded_client, "O-FEFO", 3))
    assert "FG001-OLD" not in _items_reserved(_reserve(seeded_client, "O-ONE", 1))
    picks = seeded_client.get("/v1/orders/O-FEFO/pick-suggestions")
    assert picks.status_code == 200
    assert "FG001-OLD" not in {p["inventoryItemId"] for p in picks.json()["items"]}


def test_allow_expired_takes_the_expired_lot_first_and_picks_it_only_when_asked(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    assert _items_reserved(_order(seeded_client, "O-OLD", 3, allowExpired=True)) == ["FG001-OLD"]
    assert _items_reserved(_reserve(seeded_client, "O-OLD1", 1, allowExpired=True)) == ["FG001-OLD"]
    hidden = seeded_client.get("/v1/orders/O-OLD/pick-suggestions")  # nothing to pick but the expired lot
    assert (hidden.status_code, hidden.json()["items"]) == (200, [])
    shown = seeded_client.get("/v1/orders/O-OLD/pick-suggestions?allowExpired=true")
    assert shown.status_code == 200
    assert [(p["inventoryItemId"], p["quantityToPick"]) for p in shown.json()["items"]] == [("FG001-OLD", 3)]


def test_a_sole_expired_or_held_item_is_not_reserved(seeded_client: TestClient, seeded: Database) -> None:
    """The one-statement path (PostgreSQL) and the general path refuse alike."""
    add_item(seeded, "SOLE-OLD", "SOLE-OLD-1", 5, expire_date=EXPIRED)
    add_item(seeded, "SOLE-HOLD", "SOLE-HOLD-1", 5, status_id="INV_ON_HOLD")
    for product in ("SOLE-OLD", "SOLE-HOLD"):
        body = {
            "orderId": f"O-{product}",
            "orderItemSeqId": "1",
            "productId": product,
            "facilityId": FACILITY,
        }
        refused = seeded_client.post("/v1/reservations", json={**body, "quantity": 1})
        assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock"), product
    order = {
        "facilityId": FACILITY,
        "items": [{"orderItemSeqId": "1", "productId": "SOLE-OLD", "quantity": 1}],
    }
    refused = seeded_client.post("/v1/orders/O-SOLE/reserve", json=order)
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    body = {"orderId": "O-OK", "orderItemSeqId": "1", "productId": "SOLE-OLD", "facilityId": FACILITY}
    taken = seeded_client.post("/v1/reservations", json={**body, "quantity": 2, "allowExpired": True})
    assert taken.status_code == 201, taken.text
    assert _items_reserved(taken) == ["SOLE-OLD-1"]


def test_a_backorder_never_lands_on_a_held_item_and_a_receipt_by_product_fills_it(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "HELD", "HELD-1", 5, status_id="INV_ON_HOLD")  # the facility item
    body = {
        "facilityId": FACILITY,
        "fill": "BACKORDER",
        "items": [{"orderItemSeqId": "1", "productId": "HELD", "quantity": 2}],
    }
    answer = seeded_client.post("/v1/orders/O-BO/reserve", json=body)
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["items"][0]["reservations"]
    assert row["inventoryItemId"] != "HELD-1"
    assert (row["quantity"], row["quantityNotAvailable"]) == (2, 2)
    item = seeded_client.get(f"/v1/inventory-items/{row['inventoryItemId']}").json()
    assert (item["statusId"], item["availableToPromiseTotal"]) == ("INV_AVAILABLE", -2)
    # not onto the held facility item (the backorder would wait behind units nobody can promise):
    # onto the promisable item, the backorder's, which the link now names; the backorder is filled
    line = {"shipmentItemSeqId": "1", "productId": "HELD", "quantityAccepted": 3}
    received = seeded_client.post(
        "/v1/receipts", json={"shipmentId": "PO-H", "facilityId": FACILITY, "items": [line]}
    )
    assert received.status_code == 201, received.text
    assert received.json()["items"][0]["inventoryItemId"] == row["inventoryItemId"]
    assert received.json()["items"][0]["backordersFilled"] == 2
    again = seeded_client.get("/v1/availability?facilityId=FACILITY_1&productId=HELD").json()
    assert (again["availableToPromiseTotal"], again["notPromisable"]["onHold"]) == (1, 5)


def test_a_backorder_goes_on_the_promisable_item_when_the_facility_item_is_held(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "HELD2", "HELD2-1", 5, status_id="INV_ON_HOLD")  # the facility item
    add_item(seeded, "HELD2", "HELD2-2", 1)
    body = {
        "facilityId": FACILITY,
        "fill": "BACKORDER",
        "items": [{"orderItemSeqId": "1", "productId": "HELD2", "quantity": 3}],
    }
    answer = seeded_client.post("/v1/orders/O-BO2/reserve", json=body)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["items"][0]["reservations"]
    assert [(r["inventoryItemId"], r["quantity"], r["quantityNotAvailable"]) for r in rows] == [
        ("HELD2-2", 3, 2)
    ]


def test_as_of_judges_expiry_at_that_instant(seeded_client: TestClient, seeded: Database) -> None:
    received = datetime(2019, 6, 1, tzinfo=UTC)
    add_item(seeded, "LOT", "LOT-1", 4, expire_date=EXPIRED, received=received)
    url = "/v1/availability?facilityId=FACILITY_1&productId=LOT"
    then = _availability(seeded_client, url + "&asOf=2019-12-01T00:00:00Z")
    assert (then["availableToPromiseTotal"], then["notPromisable"]) == (4, NONE_HELD)
    later = _availability(seeded_client, url + "&asOf=2020-06-01T00:00:00Z")
    assert (later["quantityOnHandTotal"], later["availableToPromiseTotal"]) == (4, 0)
    assert later["notPromisable"] == {**NONE_HELD, "expired": 4}
    now = _availability(seeded_client, url)
    assert (now["availableToPromiseTotal"], now["notPromisable"]["expired"]) == (0, 4)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_fast_path_and_the_event_loop_route_report_the_same_promisable_atp(
    seeded_client: TestClient, seeded: Database
) -> None:
    """PostgreSQL: the read answered in front of FastAPI and the route's own async read agree
    (both need the async pool)."""
    add_item(seeded, "FG001", "FG001-HOLD", 5, status_id="INV_ON_HOLD")
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    seeded_client.get(AVAILABILITY)  # the token's principal cached by the full stack
    app: StockledgerApp = seeded_client.app  # type: ignore[assignment]
    fast = app.availability_fast_path
    with full_stack_requests(seeded_client) as routed:
        quick = seeded_client.get(AVAILABILITY)
    assert routed == []  # the fast path answered
    app.availability_fast_path = None
    try:
        routed = seeded_client.get(AVAILABILITY)
    finally:
        app.availability_fast_path = fast
    assert quick.status_code == routed.status_code == 200
    assert quick.content == routed.content
    assert quick.json()["notPromisable"] == {**NONE_HELD, "onHold": 5, "expired": 4}
