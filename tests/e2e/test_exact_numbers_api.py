"""Quantities past what a float holds are answered with every digit: an item holding the largest
total one item may reach with 6 decimals (MAX_ITEM_TOTAL − 0.000001 = 999999999999.999999, 18
significant digits) reads exactly in every JSON answer that shows it, and in the event its change
wrote, on both databases (a float would answer 1000000000000.0)."""

import json
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.core.quantities import MAX_ITEM_TOTAL, json_number
from stockledger.ledger.post import Posting, post

LARGEST = MAX_ITEM_TOTAL - Decimal("0.000001")
DIGITS = "999999999999.999999"  # 18 significant digits
ITEM = "FG002-INV-001"
STOCK = {"facilityId": "FACILITY_1", "productId": "FG002"}


def _numbers(node: Any) -> list[Decimal]:
    """Every number of a JSON answer, read exactly."""
    if isinstance(node, dict):
        return [n for value in node.values() for n in _numbers(value)]
    if isinstance(node, list):
        return [n for value in node for n in _numbers(value)]
    return [Decimal(node)] if isinstance(node, (int, Decimal)) and not isinstance(node, bool) else []


def _exact(text: str) -> list[Decimal]:
    assert "\\u0000" not in text, text[:300]  # no marked text left unwritten
    return _numbers(json.loads(text, parse_float=Decimal))


def test_json_number_marks_only_what_a_float_would_round() -> None:
    assert json_number(Decimal("999999999.999999")) == 999999999.999999
    assert json_number(Decimal("1000000000000")) == 10**12
    assert json_number(Decimal("123456789012.5")) == 123456789012.5
    assert json_number(LARGEST) == "\x00exact:" + DIGITS


def test_the_largest_total_with_six_decimals_reads_exactly(
    seeded_client: TestClient, seeded: Database
) -> None:
    held = Decimal(str(seeded_client.get(f"/v1/inventory-items/{ITEM}").json()["quantityOnHandTotal"]))
    before = seeded_client.get("/v1/availability", params=STOCK).json()["quantityOnHandTotal"]
    product_total = LARGEST + Decimal(str(before)) - held  # FG002's other items too
    step = LARGEST - Decimal("0.000001") - held
    with seeded.transaction() as session:  # straight through the ledger: a detail row and the totals
        post(session, Posting("FACILITY_1", ITEM, "VAR_FOUND", step, step))
    variance = {"inventoryItemId": ITEM, "quantity": 0.000001, "varianceReasonId": "VAR_FOUND"}
    key = {"Idempotency-Key": "exact-variance-1"}
    logged = seeded_client.post("/v1/variances", json=variance, headers=key)
    assert logged.status_code == 200, logged.text
    assert LARGEST in _exact(logged.text)
    replayed = seeded_client.post("/v1/variances", json=variance, headers=key)  # the stored answer
    assert (replayed.status_code, replayed.headers["idempotent-replayed"]) == (200, "true")
    assert replayed.content == logged.content
    assert replayed.headers["content-length"] == str(len(replayed.content))
    answers = {
        "item": seeded_client.get(f"/v1/inventory-items/{ITEM}"),
        "availability": seeded_client.get("/v1/availability", params=STOCK),
        "stock": seeded_client.get("/v1/product-facility-inventory", params=STOCK),
        "items": seeded_client.get("/v1/inventory-items", params=STOCK),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        shown = LARGEST if name in ("item", "items") else product_total
        assert format(shown, "f") in answer.text, (name, answer.text[:400])
        assert shown in _exact(answer.text), name
        assert answer.headers["content-length"] == str(len(answer.content)), name
    details = seeded_client.get(f"/v1/inventory-items/{ITEM}/details", params={"limit": 1000})
    assert format(step, "f") in details.text
    assert step in _exact(details.text)  # a diff past a float's digits too
    head = seeded_client.head(f"/v1/inventory-items/{ITEM}")
    assert head.headers["content-length"] == answers["item"].headers["content-length"]
    events = seeded_client.get("/v1/events", params={"limit": 1000})
    assert LARGEST in _exact(events.text)
    too_many = seeded_client.post(
        "/v1/reservations",
        json={"orderId": "BIG", "orderItemSeqId": "00001", **STOCK, "quantity": 1_000_000_000},
    )
    assert too_many.status_code == 201, too_many.text  # a billion of 10^12: a JSON answer, exact
    after = _exact(seeded_client.get(f"/v1/inventory-items/{ITEM}").text)
    assert LARGEST - 1_000_000_000 in after  # its ATP, one reservation later
