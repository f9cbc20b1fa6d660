"""A purchase shipment line has one product: receiving it again as another product is 409
`conflict`, even with `additional: true`, and changes nothing (both databases)."""

from typing import Any

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.shipping_support import snapshot

FAC = "FACILITY_1"


def _receipt(*lines: tuple[str, str, int], **extra: Any) -> dict[str, Any]:
    items = [{"shipmentItemSeqId": s, "productId": p, "quantityAccepted": q} for s, p, q in lines]
    return {"shipmentId": "PO-L", "facilityId": FAC, "items": items, **extra}


def test_a_line_received_as_one_product_is_refused_as_another_even_with_additional(
    seeded_client: TestClient, seeded: Database
) -> None:
    first = seeded_client.post("/v1/receipts", json=_receipt(("00001", "FG002", 2)))
    assert first.status_code == 201, first.text
    before = snapshot(seeded)
    other = seeded_client.post("/v1/receipts", json=_receipt(("00001", "FG001", 3), additional=True))
    assert other.status_code == 409, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    problem = other.json()
    assert (problem["code"], problem["productId"], problem["requestedProductId"]) == (
        "conflict",
        "FG002",
        "FG001",
    )
    mixed = _receipt(("00002", "FG001", 1), ("00001", "FG001", 3), additional=True)
    assert seeded_client.post("/v1/receipts", json=mixed).status_code == 409
    assert snapshot(seeded) == before
    same = seeded_client.post("/v1/receipts", json=_receipt(("00001", "FG002", 1), additional=True))
    assert same.status_code == 201, same.text


def test_additional_on_a_line_never_received_is_its_first_receipt(seeded_client: TestClient) -> None:
    answer = seeded_client.post("/v1/receipts", json=_receipt(("00003", "FG001", 2), additional=True))
    assert answer.status_code == 201, answer.text
    again = seeded_client.post("/v1/receipts", json=_receipt(("00003", "FG001", 2)))
    assert (again.status_code, again.json()["code"]) == (409, "already_received")
