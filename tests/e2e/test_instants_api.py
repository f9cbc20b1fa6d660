"""Timestamps at the edge of the calendar, on both databases: an instant whose UTC equivalent is
outside years 1 to 9999 (`9999-12-31T23:59:59-01:00` is 10000-01-01 in UTC) is a 422 naming the
field (a field error on a page), never a 500, wherever a timestamp enters; a timestamp without
an offset is UTC, and every timestamp answered carries its offset.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from tests.e2e.test_web_pages import HX, PRODUCT, _as, _errors

PAST_THE_CALENDAR = [
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+00:01",
    "0001-01-01T05:00:00+14:00",
    "9999-12-31T23:59:59.999999-14:00",
]
AVAILABILITY = "/v1/availability"
PRODUCT_AT = {"facilityId": "FACILITY_1", "productId": "FG002"}


def _rows(db: Database) -> tuple[int, int]:
    with db.reading() as session:
        items = session.scalar(select(func.count()).select_from(InventoryItem))
        details = session.scalar(select(func.count()).select_from(InventoryItemDetail))
    return int(items or 0), int(details or 0)


def _refused_at(answer: Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["code"] == "validation_failed"
    assert body["errors"][0]["loc"][-1] == field, body
    assert "outside" in body["errors"][0]["msg"], body


@pytest.mark.parametrize("moment", PAST_THE_CALENDAR)
def test_as_of_past_the_calendar_is_a_422(seeded_client: TestClient, moment: str) -> None:
    _refused_at(seeded_client.get(AVAILABILITY, params={**PRODUCT_AT, "asOf": moment}), "asOf")


@pytest.mark.parametrize("moment", PAST_THE_CALENDAR)
def test_a_receipt_expiring_past_the_calendar_is_a_422(
    seeded_client: TestClient, seeded: Database, moment: str
) -> None:
    before = _rows(seeded)
    line = {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 1, "expireDate": moment}
    body = {"shipmentId": "PO-EDGE", "facilityId": "FACILITY_1", "items": [line]}
    _refused_at(seeded_client.post("/v1/receipts", json=body), "expireDate")
    assert _rows(seeded) == before


@pytest.mark.parametrize("field", ["expireDate", "datetimeReceived", "effectiveDate"])
def test_an_import_past_the_calendar_is_a_422(
    seeded_client: TestClient, seeded: Database, field: str
) -> None:
    before = _rows(seeded)
    detail: dict[str, Any] = {"quantityOnHandDiff": 1, "availableToPromiseDiff": 1}
    item: dict[str, Any] = {
        "inventoryItemId": "EDGE-1",
        "productId": "FG002",
        "facilityId": "FACILITY_1",
        "inventoryItemDetails": [detail],
    }
    (detail if field == "effectiveDate" else item)[field] = PAST_THE_CALENDAR[0]
    _refused_at(seeded_client.post("/v1/import", json=[item]), field)
    assert _rows(seeded) == before


def test_a_count_dated_past_the_calendar_is_a_422(seeded_client: TestClient, seeded: Database) -> None:
    before = _rows(seeded)
    count = {
        "physicalInventoryId": "PI_EDGE",
        "facilityId": "FACILITY_1",
        "physicalInventoryDate": PAST_THE_CALENDAR[1],
        "counts": [{"inventoryItemId": "FG003-INV-001", "quantityCounted": 30}],
    }
    _refused_at(seeded_client.post("/v1/physical-inventories", json=count), "physicalInventoryDate")
    assert _rows(seeded) == before


def test_the_receive_form_names_the_expiry_past_the_calendar(seeded: Database, client: TestClient) -> None:
    _as(client, seeded, "admin")
    before = _rows(seeded)
    answer = client.post(
        f"{PRODUCT}/FG002/receive",
        data={
            "shipmentId": "SH_EDGE",
            "shipmentItemSeqId": "00001",
            "quantityAccepted": "5",
            "expireDate": PAST_THE_CALENDAR[0],
        },
        headers=HX,
    )
    assert answer.status_code == 422, answer.text
    errors = _errors(answer.text)
    assert len(errors) == 1, answer.text
    assert "outside" in errors[0]
    assert 'id="receive-expireDate-error"' in answer.text
    assert _rows(seeded) == before


def test_the_last_instant_of_the_calendar_is_taken(seeded_client: TestClient) -> None:
    """Up to 9999-12-31T23:59:59.999999 in UTC is a real instant, whatever offset names it."""
    for moment in ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+01:00", "0001-01-01T00:00:00-01:00"):
        answer = seeded_client.get(AVAILABILITY, params={**PRODUCT_AT, "asOf": moment})
        assert answer.status_code == 200, (moment, answer.text)


def test_as_of_is_answered_in_utc_with_its_offset(seeded_client: TestClient) -> None:
    """RFC 3339 timestamps carry an offset: one sent without is UTC, and the answer says so."""
    cases = {
        "2026-03-01T12:00:00": "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00Z": "2026-03-01T12:00:00Z",
        "2026-03-01T14:00:00+02:00": "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00.5-00:30": "2026-03-01T12:30:00.500000Z",
    }
    for sent, answered in cases.items():
        answer = seeded_client.get(AVAILABILITY, params={**PRODUCT_AT, "asOf": sent})
        assert answer.status_code == 200, answer.text
        assert answer.json()["asOf"] == answered, sent
