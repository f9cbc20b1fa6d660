"""Reads of what an order did, over HTTP on both databases: its reservations, its empty pick list,
its issuances, a receipt; a token scoped to another facility sees none of it."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.core.pagination import encode_cursor
from tests.e2e.test_shipping_api import problem
from tests.paging_support import all_pages
from tests.scope_support import bearer, second_facility

FAC = "FACILITY_1"


def _reserve(client: TestClient, order: str, seq: str, product: str, quantity: int, **extra: Any) -> None:
    line = {"orderId": order, "orderItemSeqId": seq, "productId": product, "facilityId": FAC}
    answer = client.post("/v1/reservations", json=line | {"quantity": quantity, **extra})
    assert answer.status_code == 201, answer.text


def test_an_orders_reservations_list_every_status_with_lot_and_backorder(seeded_client: TestClient) -> None:
    _reserve(seeded_client, "O1", "00001", "FG001", 25)  # FEFO over two items: 12 + 13
    there = seeded_client.get(f"/v1/availability?facilityId={FAC}&productId=FG002").json()
    _reserve(seeded_client, "O1", "00002", "FG002", 40, fill="BACKORDER")
    _reserve(seeded_client, "O1", "00003", "FG003", 1)
    assert seeded_client.delete("/v1/reservations/O1/00003").status_code == 200
    rows = all_pages(seeded_client, "/v1/orders/O1/reservations", limit=2)
    seen = [
        (r["orderItemSeqId"], r["productId"], r["quantity"], r["quantityNotAvailable"], r["statusId"])
        for r in rows
    ]
    assert sum(r[2] for r in seen if r[0] == "00001") == 25
    assert sum(r[2] for r in seen if r[0] == "00002") == 40
    assert sum(r[3] for r in seen if r[0] == "00002") == 40 - there["availableToPromiseTotal"] > 0
    assert {r[4] for r in seen if r[0] in ("00001", "00002")} == {"RES_ACTIVE"}
    assert [r[4] for r in seen if r[0] == "00003"] == ["RES_CANCELLED"]
    keys = [(r["facilityId"], r["orderItemSeqId"], r["inventoryItemId"]) for r in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert all(r["facilityId"] == FAC and "lotId" in r and r["reservedDatetime"] for r in rows)


def test_an_order_without_reservations_has_empty_lists(seeded_client: TestClient) -> None:
    for path in ("/v1/orders/NONE/reservations", "/v1/orders/NONE/pick-suggestions"):
        answer = seeded_client.get(path)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"orderId": "NONE", "items": [], "next": None}


def test_a_scoped_token_sees_its_facilities_reservations_only(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    _reserve(seeded_client, "O2", "00001", "FG001", 2)
    other = {"orderId": "O2", "orderItemSeqId": "00002", "productId": "FG001", "facilityId": "FACILITY_2"}
    assert seeded_client.post("/v1/reservations", json=other | {"quantity": 1}).status_code == 201
    everything = seeded_client.get("/v1/orders/O2/reservations").json()["items"]
    assert {r["facilityId"] for r in everything} == {FAC, "FACILITY_2"}
    scoped = seeded_client.get("/v1/orders/O2/reservations", headers=bearer(seeded, "viewer", ["FACILITY_2"]))
    assert [(r["facilityId"], r["orderItemSeqId"]) for r in scoped.json()["items"]] == [
        ("FACILITY_2", "00002")
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/orders/O1/reservations?limit=0",
        "/v1/orders/O1/reservations?limit=1001",
        "/v1/orders/O1/reservations?cursor=bm90LWEtY3Vyc29y",
        "/v1/item-issuances?orderId=",
        f"/v1/item-issuances?orderId=O1&cursor={encode_cursor([1, 2])}",
    ],
)
def test_bad_query_parameters_are_a_422(seeded_client: TestClient, path: str) -> None:
    problem(seeded_client.get(path), 422, "validation_failed")


def _shipped(client: TestClient, shipment_id: str, order: str, quantity: int) -> None:
    _reserve(client, order, "00001", "FG002", quantity)
    shipment = {
        "shipmentId": shipment_id,
        "primaryOrderId": order,
        "originFacilityId": FAC,
        "items": [
            {
                "shipmentItemSeqId": "00001",
                "orderItemSeqId": "00001",
                "productId": "FG002",
                "quantity": quantity,
            }
        ],
    }
    assert client.post("/v1/shipments", json=shipment).status_code == 201
    assert client.post(f"/v1/shipments/{shipment_id}/ship", json={}).status_code == 200


def test_issuances_of_an_order_or_a_shipment(seeded_client: TestClient, seeded: Database) -> None:
    _shipped(seeded_client, "SH-A", "OA", 25)  # FG002-INV-001 holds 22: two items issued
    _shipped(seeded_client, "SH-B", "OB", 1)
    by_order = all_pages(seeded_client, "/v1/item-issuances", limit=1, orderId="OA")
    by_shipment = seeded_client.get("/v1/item-issuances", params={"shipmentId": "SH-A"}).json()["items"]
    assert by_order == by_shipment
    assert sum(i["quantity"] for i in by_order) == 25
    assert len(by_order) == 2
    assert {(i["orderId"], i["shipmentId"], i["productId"], i["facilityId"]) for i in by_order} == {
        ("OA", "SH-A", "FG002", FAC)
    }
    assert all(i["cogs"] is not None and i["issuedDatetime"] for i in by_order)
    assert [
        i["quantity"] for i in seeded_client.get("/v1/item-issuances?shipmentId=SH-B").json()["items"]
    ] == [1]
    assert seeded_client.get("/v1/item-issuances?orderId=NO_SUCH").json() == {"items": [], "next": None}
    both = seeded_client.get("/v1/item-issuances", params={"orderId": "OA", "shipmentId": "SH-A"}).json()
    assert both["items"] == by_order
    assert seeded_client.get("/v1/item-issuances?orderId=OA&shipmentId=SH-B").json()["items"] == []
    every = all_pages(seeded_client, "/v1/item-issuances", limit=2)  # neither: all in the token's facilities
    assert sorted(i["itemIssuanceId"] for i in every) == sorted(
        i["itemIssuanceId"]
        for i in by_order + seeded_client.get("/v1/item-issuances?orderId=OB").json()["items"]
    )
    second_facility(seeded)
    hidden = seeded_client.get(
        "/v1/item-issuances?orderId=OA", headers=bearer(seeded, "viewer", ["FACILITY_2"])
    )
    assert hidden.json() == {"items": [], "next": None}


def test_a_receipt_shows_what_was_rejected(seeded_client: TestClient, seeded: Database) -> None:
    line = {
        "shipmentItemSeqId": "00001",
        "productId": "FG002",
        "quantityAccepted": 10,
        "quantityRejected": 2,
        "rejectionReasonId": "SRJ_DAMAGED",
    }
    received = seeded_client.post(
        "/v1/receipts", json={"shipmentId": "PO-1", "facilityId": FAC, "items": [line]}
    )
    [answer] = received.json()["items"]
    receipt = seeded_client.get(f"/v1/receipts/{answer['receiptId']}")
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    assert {
        k: body[k] for k in ("quantityAccepted", "quantityRejected", "rejectionReasonId", "shipmentId")
    } == {
        "quantityAccepted": 10,
        "quantityRejected": 2,
        "rejectionReasonId": "SRJ_DAMAGED",
        "shipmentId": "PO-1",
    }
    assert (body["facilityId"], body["inventoryItemId"]) == (FAC, answer["inventoryItemId"])
    second_facility(seeded)
    other = seeded_client.get(
        f"/v1/receipts/{answer['receiptId']}", headers=bearer(seeded, "viewer", ["FACILITY_2"])
    )
    refused = problem(other, 403, "forbidden")
    assert refused["detail"] == f"This token may not act on receipt {answer['receiptId']}"
    assert "FACILITY_1" not in other.text
    assert "PO-1" not in other.text
    problem(seeded_client.get("/v1/receipts/NO_SUCH_RECEIPT"), 404, "not_found")
