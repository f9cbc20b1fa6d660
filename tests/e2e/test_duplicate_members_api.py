"""A JSON body with an object naming a member twice is refused whole (an outside tester: a reset
with "lines" twice applied the last, silently): 422 problem+json naming the member and where it
is, nothing changed; on every JSON route (the ERP reset, a reservation, its fast path on
PostgreSQL, the import), and an Idempotency-Key's stored answer is not replayed for it."""

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.ledger.models import ExternalInventoryReset
from stockledger.ledger.views import availability

F = "FACILITY_1"
JSON = {"content-type": "application/json"}
RESET = "/v1/external-inventory-resets"


def _refused(answer: Response, loc: list[Any]) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == "validation_failed"
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [(["body", *loc], "duplicate_member")]
    assert f'"{loc[-1]}" appears twice' in problem["detail"]


def _stock(db: Database, product: str) -> tuple[Decimal, Decimal]:
    with db.reading() as session:
        a = availability(session, F, product)
        return a.quantity_on_hand_total, a.available_to_promise_total


LINE = '{"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 5'


def _runs(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(ExternalInventoryReset)) or 0)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (f'{{"lines": [{LINE}}}], "lines": []}}', ["lines"]),
        (f'{{"lines": [{LINE}, "quantityOnHand": 6}}]}}', ["lines", 0, "quantityOnHand"]),
        (f'{{"source": "a", "source": "b", "lines": [{LINE}}}]}}', ["source"]),
    ],
    ids=["lines", "a-lines-member", "source"],
)
def test_a_reset_naming_a_member_twice_is_refused_whole(
    seeded_client: TestClient, seeded: Database, body: str, loc: list[Any]
) -> None:
    before = _stock(seeded, "FG001")
    _refused(seeded_client.post(RESET, content=body, headers=JSON), loc)
    assert _stock(seeded, "FG001") == before
    assert _runs(seeded) == 0


def test_a_reservation_naming_a_member_twice_is_refused(seeded_client: TestClient, seeded: Database) -> None:
    """On PostgreSQL the fast path reads the body first: it leaves such a body to the route."""
    before = _stock(seeded, "FG001")
    body = (
        '{"orderId": "O-TWICE", "orderItemSeqId": "00001", "productId": "FG001", '
        '"facilityId": "FACILITY_1", "quantity": 1, "quantity": 2}'
    )
    _refused(seeded_client.post("/v1/reservations", content=body, headers=JSON), ["quantity"])
    assert _stock(seeded, "FG001") == before
    item = '{"orderItemSeqId": "1", "productId": "FG001", "productId": "FG002", "quantity": 1}'
    body = f'{{"facilityId": "FACILITY_1", "items": [{item}]}}'
    answer = seeded_client.post("/v1/orders/O-TWICE/reserve", content=body, headers=JSON)
    _refused(answer, ["items", 0, "productId"])
    assert _stock(seeded, "FG001") == before


def test_an_import_naming_a_member_twice_is_refused(seeded_client: TestClient) -> None:
    body = '{"productId": "NEW_A", "productName": "A", "productId": "NEW_B"}'
    _refused(seeded_client.post("/v1/import", content=body, headers=JSON), ["productId"])
    for product in ("NEW_A", "NEW_B"):
        assert seeded_client.get(f"/v1/products/{product}").status_code == 404


def test_a_stored_answer_is_not_replayed_for_a_body_naming_a_member_twice(seeded_client: TestClient) -> None:
    """Refused as it is without a key (422, where it is wrong), not as another request under the
    key (409): the client's mistake is the body. The key still replays its first answer."""
    headers = {**JSON, "Idempotency-Key": "twice-1"}
    body = '{"productId": "NEW_C", "productName": "C"}'
    first = seeded_client.post("/v1/import", content=body, headers=headers)
    assert first.status_code == 200, first.text
    again = seeded_client.post(
        "/v1/import",
        content='{"productId": "NEW_C", "productName": "C", "productName": "C"}',
        headers=headers,
    )
    _refused(again, ["productName"])
    assert again.headers.get("idempotent-replayed") is None
    replay = seeded_client.post("/v1/import", content=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.content == first.content


def test_a_body_naming_a_member_twice_claims_no_key(seeded_client: TestClient) -> None:
    """The refused body stored nothing under its key: the key is free for the corrected body."""
    headers = {**JSON, "Idempotency-Key": "twice-2"}
    twice = '{"productId": "NEW_D", "productName": "D", "productName": "D"}'
    _refused(seeded_client.post("/v1/import", content=twice, headers=headers), ["productName"])
    corrected = seeded_client.post(
        "/v1/import", content='{"productId": "NEW_D", "productName": "D"}', headers=headers
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.headers.get("idempotent-replayed") is None
    assert seeded_client.get("/v1/products/NEW_D").status_code == 200
