"""Units sold beyond any reservation (POS sales, shipments shipped with allowUnreserved) take only
what a new reservation could: never an expired lot unless the request says allowExpired, never
more than the product's NET promisable ATP that availability reports (both databases)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from stockledger.core.db import Database
from tests.promisable_support import EXPIRED, FAR, add_item
from tests.shipping_support import snapshot

FAC = "FACILITY_1"
pytestmark = pytest.mark.posts_without_events  # add_item posts the setup's stock directly


def _sale(client: TestClient, order_id: str, product_id: str, quantity: int, **extra: Any) -> Response:
    line = {"orderItemSeqId": "1", "productId": product_id, "quantity": quantity}
    body = {"orderId": order_id, "facilityId": FAC, "items": [line], **extra}
    answer: Response = client.post("/v1/pos-sales", json=body)
    return answer


def _ship_unreserved(
    client: TestClient, shipment_id: str, product_id: str, quantity: int, **extra: Any
) -> Response:
    item = {"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": product_id, "quantity": quantity}
    body = {"shipmentId": shipment_id, "primaryOrderId": f"O-{shipment_id}", "originFacilityId": FAC}
    created = client.post("/v1/shipments", json={**body, "items": [item]})
    assert created.status_code == 201, created.text
    shipped: Response = client.post(
        f"/v1/shipments/{shipment_id}/ship", json={"allowUnreserved": True, **extra}
    )
    return shipped


def _availability(client: TestClient, product_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/availability?facilityId={FAC}&productId={product_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _refused(answer: Response, requested: int, available: int) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == "insufficient_stock"
    assert (problem["requested"], problem["available"]) == (requested, available)
    return problem


def _sources(answer: Response, status: int) -> list[tuple[str, int]]:
    assert answer.status_code == status, answer.text
    return [(i["inventoryItemId"], i["quantity"]) for i in answer.json()["issuances"]]


def test_a_pos_sale_never_sells_an_expired_lot_without_allow_expired(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "E1", "E1-OLD", 5, expire_date=EXPIRED)
    add_item(seeded, "E1", "E1-HOLD", 4, status_id="INV_ON_HOLD")
    assert _availability(seeded_client, "E1")["notPromisable"]["expired"] == 5
    before = snapshot(seeded)
    problem = _refused(_sale(seeded_client, "OE1", "E1", 2), 2, 0)
    assert " 5 " not in f" {problem['detail']} "  # the expired units are not counted as sellable
    assert "allowExpired" in problem["detail"]
    assert snapshot(seeded) == before
    assert _sources(_sale(seeded_client, "OE1", "E1", 2, allowExpired=True), 201) == [("E1-OLD", 2)]
    _refused(_sale(seeded_client, "OE1B", "E1", 4, allowExpired=True), 4, 3)  # on hold is never sold


def test_a_pos_sale_takes_the_fresh_lot_and_skips_the_expired_one(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "E2", "E2-OLD", 5, expire_date=EXPIRED)
    add_item(seeded, "E2", "E2-NEW", 3, expire_date=FAR)
    assert _sources(_sale(seeded_client, "OE2", "E2", 2), 201) == [("E2-NEW", 2)]
    _refused(_sale(seeded_client, "OE2B", "E2", 2), 2, 1)
    assert _availability(seeded_client, "E2")["availableToPromiseTotal"] == 1


def test_an_unreserved_shipment_skips_expired_lots_unless_allowed(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "E3", "E3-OLD", 5, expire_date=EXPIRED)
    add_item(seeded, "E3", "E3-NEW", 1, expire_date=FAR)
    _refused(_ship_unreserved(seeded_client, "SE3", "E3", 2), 2, 1)
    assert seeded_client.get("/v1/shipments/SE3").json()["statusId"] == "SHIPMENT_INPUT"
    shipped = seeded_client.post(
        "/v1/shipments/SE3/ship", json={"allowUnreserved": True, "allowExpired": True}
    )
    assert _sources(shipped, 200) == [("E3-OLD", 2)]  # FEFO: the expired lot first, when allowed


def test_naming_an_expired_lot_beyond_the_reservation_needs_allow_expired(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "E4", "E4-OLD", 5, expire_date=EXPIRED)
    add_item(seeded, "E4", "E4-NEW", 5, expire_date=FAR)
    item = {"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "E4", "quantity": 2}
    body = {"shipmentId": "SE4", "primaryOrderId": "OE4", "originFacilityId": FAC, "items": [item]}
    assert seeded_client.post("/v1/shipments", json=body).status_code == 201
    named = {"items": [{"shipmentItemSeqId": "1", "quantity": 2, "inventoryItemId": "E4-OLD"}]}
    problem = _refused(
        seeded_client.post("/v1/shipments/SE4/ship", json={**named, "allowUnreserved": True}), 2, 5
    )
    assert problem["inventoryItemId"] == "E4-OLD"
    allowed = {**named, "allowUnreserved": True, "allowExpired": True}
    assert _sources(seeded_client.post("/v1/shipments/SE4/ship", json=allowed), 200) == [("E4-OLD", 2)]


def _owing_two(client: TestClient, product_id: str) -> None:
    """The reproduction: facility item at −2 (a variance with allowNegative), lot L1 of 5 → ATP 3."""
    add_lot = {
        "shipmentId": f"PO-{product_id}",
        "facilityId": FAC,
        "items": [{"shipmentItemSeqId": "1", "productId": product_id, "quantityAccepted": 5, "lotId": "L1"}],
    }
    assert client.post("/v1/receipts", json=add_lot).status_code == 201
    variance = {
        "facilityId": FAC,
        "productId": product_id,
        "quantity": -2,
        "varianceReasonId": "VAR_LOST",
        "allowNegative": True,
    }
    answer = client.post("/v1/variances", json=variance)
    assert answer.status_code == 200, answer.text
    assert _availability(client, product_id)["availableToPromiseTotal"] == 3


def test_a_pos_sale_is_capped_at_the_net_promisable_atp(seeded_client: TestClient, seeded: Database) -> None:
    add_item(seeded, "N1", "N1-FAC", 0)  # the product's facility item
    _owing_two(seeded_client, "N1")
    before = snapshot(seeded)
    _refused(_sale(seeded_client, "ON1", "N1", 4), 4, 3)
    assert snapshot(seeded) == before
    assert _sources(_sale(seeded_client, "ON1", "N1", 3), 201)[0][1] == 3
    assert _availability(seeded_client, "N1")["availableToPromiseTotal"] == 0
    _refused(_sale(seeded_client, "ON1B", "N1", 1), 1, 0)


def test_an_unreserved_shipment_is_capped_at_the_net_and_a_reserved_one_is_not(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "N2", "N2-FAC", 0)
    _owing_two(seeded_client, "N2")
    _refused(_ship_unreserved(seeded_client, "SN2", "N2", 4), 4, 3)
    reserve = {"orderId": "O-SN3", "orderItemSeqId": "1", "productId": "N2", "facilityId": FAC, "quantity": 3}
    assert seeded_client.post("/v1/reservations", json=reserve).status_code == 201
    assert _availability(seeded_client, "N2")["availableToPromiseTotal"] == 0
    reserved = _ship_unreserved(seeded_client, "SN3", "N2", 3)  # its own reservation: net 0 is no bar
    assert sum(q for _, q in _sources(reserved, 200)) == 3
    assert _availability(seeded_client, "N2")["availableToPromiseTotal"] == 0


def test_units_reserved_from_an_expired_lot_ship_without_allow_expired(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "E5", "E5-OLD", 5, expire_date=EXPIRED)
    reserve = {
        "orderId": "O-SE5",
        "orderItemSeqId": "1",
        "productId": "E5",
        "facilityId": FAC,
        "quantity": 2,
        "allowExpired": True,
    }
    assert seeded_client.post("/v1/reservations", json=reserve).status_code == 201
    assert _sources(_ship_unreserved(seeded_client, "SE5", "E5", 2), 200) == [("E5-OLD", 2)]
