"""A reservation never takes more than the product's NET promisable ATP that availability reports:
an item with negative ATP (stock owed) lowers what new reservations may take (both databases)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.ledger.models import Product
from tests.promisable_support import EXPIRED, FAR, add_item

FAC = "FACILITY_1"


def _product(db: Database, product_id: str) -> None:
    with db.transaction() as session:
        session.add(Product(product_id=product_id, product_name=f"Product {product_id}"))


def _receive(client: TestClient, product_id: str, facility_qty: int, lot_qty: int) -> None:
    expire = (datetime.now(UTC) + timedelta(days=300)).isoformat()
    lines = [
        {"shipmentItemSeqId": "1", "productId": product_id, "quantityAccepted": facility_qty},
        {
            "shipmentItemSeqId": "2",
            "productId": product_id,
            "quantityAccepted": lot_qty,
            "lotId": f"L{product_id}",
            "expireDate": expire,
        },
    ]
    body = {"shipmentId": f"PO-{product_id}", "facilityId": FAC, "items": lines}
    answer = client.post("/v1/receipts", json=body)
    assert answer.status_code == 201, answer.text


def _availability(client: TestClient, product_id: str) -> tuple[Any, Any]:
    answer = client.get(f"/v1/availability?facilityId={FAC}&productId={product_id}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"]


def _reserve(client: TestClient, order_id: str, product_id: str, quantity: int, **extra: Any) -> Any:
    body = {
        "orderId": order_id,
        "orderItemSeqId": "1",
        "productId": product_id,
        "facilityId": FAC,
        "quantity": quantity,
        **extra,
    }
    return client.post("/v1/reservations", json=body)


def _owing_two(client: TestClient, db: Database, product_id: str) -> None:
    """The reproduction: facility item 10, lot 5, a variance of −12 → facility item ATP −2, net 3."""
    _product(db, product_id)
    _receive(client, product_id, 10, 5)
    variance = {
        "facilityId": FAC,
        "productId": product_id,
        "quantity": -12,
        "varianceReasonId": "VAR_LOST",
        "allowNegative": True,
    }
    answer = client.post("/v1/variances", json=variance)
    assert answer.status_code == 200, answer.text
    assert _availability(client, product_id) == (3, 3)


def test_all_or_nothing_refuses_more_than_the_net_with_availabilitys_figure(
    seeded_client: TestClient, seeded: Database
) -> None:
    _owing_two(seeded_client, seeded, "Q1")
    refused = _reserve(seeded_client, "OQ1", "Q1", 4)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "insufficient_stock"
    [line] = problem["lines"]
    assert (line["available"], line["shortfall"]) == (3, 1)
    assert _availability(seeded_client, "Q1") == (3, 3)
    by_order = {"facilityId": FAC, "items": [{"orderItemSeqId": "1", "productId": "Q1", "quantity": 4}]}
    assert seeded_client.post("/v1/orders/OQ1B/reserve", json=by_order).status_code == 409
    assert _reserve(seeded_client, "OQ1C", "Q1", 3).status_code == 201
    assert _availability(seeded_client, "Q1") == (3, 0)
    assert _reserve(seeded_client, "OQ1D", "Q1", 1).status_code == 409


def test_partial_reserves_the_net_and_backorder_owes_the_rest(
    seeded_client: TestClient, seeded: Database
) -> None:
    _owing_two(seeded_client, seeded, "Q2")
    partial = _reserve(seeded_client, "OQ2", "Q2", 4, fill="PARTIAL")
    assert partial.status_code == 201, partial.text
    assert (partial.json()["quantityReserved"], partial.json()["quantityUnreserved"]) == (3, 1)
    assert _availability(seeded_client, "Q2") == (3, 0)
    backorder = _reserve(seeded_client, "OQ2B", "Q2", 2, fill="BACKORDER")
    assert backorder.status_code == 201, backorder.text
    assert (backorder.json()["quantityReserved"], backorder.json()["quantityNotAvailable"]) == (2, 2)
    assert _availability(seeded_client, "Q2") == (3, -2)
    nothing = _reserve(seeded_client, "OQ2C", "Q2", 1, fill="PARTIAL")
    assert nothing.status_code == 200, nothing.text
    assert nothing.json()["quantityReserved"] == 0


def test_an_atp_all_rejection_lowers_what_new_reservations_may_take(
    seeded_client: TestClient, seeded: Database
) -> None:
    _product(seeded, "Q3")
    _receive(seeded_client, "Q3", 4, 6)
    assert _reserve(seeded_client, "OQ3", "Q3", 1).status_code == 201
    rejection = {"rejectionMode": "ATP_ALL", "quantity": 8}
    answer = seeded_client.post("/v1/orders/OQ3/items/1/reject", json=rejection)
    assert answer.status_code == 200, answer.text
    assert _availability(seeded_client, "Q3") == (10, 2)
    codes = [_reserve(seeded_client, f"OQ3-{n}", "Q3", 1).status_code for n in range(3)]
    assert codes == [201, 201, 409]
    assert _availability(seeded_client, "Q3") == (10, 0)


@pytest.mark.parametrize("fill", ["ALL_OR_NOTHING", "PARTIAL"])
def test_a_negative_net_promises_nothing(seeded_client: TestClient, seeded: Database, fill: str) -> None:
    _owing_two(seeded_client, seeded, "Q4")
    assert _reserve(seeded_client, "OQ4", "Q4", 3).status_code == 201
    assert _reserve(seeded_client, "OQ4B", "Q4", 2, fill="BACKORDER").status_code == 201
    answer = _reserve(seeded_client, "OQ4C", "Q4", 1, fill=fill)
    if fill == "PARTIAL":
        assert answer.status_code == 200, answer.text
        assert answer.json()["quantityReserved"] == 0
    else:
        assert answer.status_code == 409, answer.text
        assert answer.json()["lines"][0]["available"] == -2
    assert _availability(seeded_client, "Q4") == (3, -2)


@pytest.mark.posts_without_events  # add_item posts the setup's stock directly
def test_with_allow_expired_availability_and_the_reservation_count_expired_lots_alike(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "Q5", "Q5-FAC", 3, atp=-2)
    add_item(seeded, "Q5", "Q5-OLD", 4, expire_date=EXPIRED)
    add_item(seeded, "Q5", "Q5-LIVE", 1, expire_date=FAR)
    url = f"/v1/availability?facilityId={FAC}&productId=Q5"
    plain, expired_too = seeded_client.get(url).json(), seeded_client.get(url + "&allowExpired=true").json()
    assert (plain["availableToPromiseTotal"], plain["notPromisable"]["expired"]) == (-1, 4)
    assert (expired_too["availableToPromiseTotal"], expired_too["notPromisable"]["expired"]) == (3, 0)
    refused = _reserve(seeded_client, "OQ5", "Q5", 4, allowExpired=True)
    assert refused.status_code == 409, refused.text
    assert refused.json()["lines"][0]["available"] == 3
    assert _reserve(seeded_client, "OQ5", "Q5", 1).status_code == 409  # −1 without expired lots
    assert _reserve(seeded_client, "OQ5B", "Q5", 3, allowExpired=True).status_code == 201
    assert seeded_client.get(url + "&allowExpired=true").json()["availableToPromiseTotal"] == 0
