"""Idempotency-Key over HTTP: the first answer replayed, nothing changed twice, mismatch refused."""

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from stockledger.core.db import Database
from stockledger.idempotency.models import IdempotencyKey
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from tests.conftest import POSTGRES_LIKE


def _extra_detail(seq_id: str, qty: int) -> list[dict[str, Any]]:
    """A seed-format document adding one ledger row to FG001-INV-001 (13 after the seed)."""
    return [
        {
            "inventoryItemId": "FG001-INV-001",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "inventoryItemDetails": [
                {
                    "inventoryItemDetailSeqId": seq_id,
                    "effectiveDate": "2024-08-01 10:00:00.000",
                    "quantityOnHandDiff": qty,
                    "availableToPromiseDiff": qty,
                    "reasonEnumId": "INV_RECEIPT",
                }
            ],
        }
    ]


def _state(db: Database) -> tuple[int, Any, int]:
    with db.reading() as session:
        details = int(session.scalar(select(func.count()).select_from(InventoryItemDetail)) or 0)
        item = session.get(InventoryItem, ("FACILITY_1", "FG001-INV-001"))
        assert item is not None
        keys = int(session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)
        return details, item.quantity_on_hand_total, keys


def test_a_replay_returns_the_first_answer_and_changes_nothing(
    seeded_client: TestClient, seeded: Database
) -> None:
    before = _state(seeded)
    headers = {"Idempotency-Key": "import-0099"}
    first = seeded_client.post("/v1/import", json=_extra_detail("0099", 5), headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["ledgerRowsWritten"] == 1
    assert "idempotent-replayed" not in first.headers
    after_first = _state(seeded)
    assert after_first == (before[0] + 1, before[1] + 5, 1)

    again = seeded_client.post("/v1/import", json=_extra_detail("0099", 5), headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content  # the stored answer (a re-run would say 0 rows written)
    assert again.headers["content-type"] == first.headers["content-type"]
    assert _state(seeded) == after_first


def test_json_key_order_and_spacing_are_the_same_request(seeded_client: TestClient, seeded: Database) -> None:
    headers = {"Idempotency-Key": "same-json", "content-type": "application/json"}
    first = seeded_client.post("/v1/import", json=_extra_detail("0098", 2), headers=headers)
    reordered = (
        '[{"facilityId":"FACILITY_1", "productId":"FG001", "inventoryItemDetails":[{"reasonEnumId":'
        '"INV_RECEIPT","availableToPromiseDiff":2,"quantityOnHandDiff":2,"effectiveDate":'
        '"2024-08-01 10:00:00.000","inventoryItemDetailSeqId":"0098"}], "inventoryItemId":"FG001-INV-001"}]'
    )
    again = seeded_client.post("/v1/import", content=reordered, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == first.content


def test_the_same_key_with_another_body_is_a_409(seeded_client: TestClient, seeded: Database) -> None:
    headers = {"Idempotency-Key": "reused"}
    assert seeded_client.post("/v1/import", json=_extra_detail("0097", 1), headers=headers).status_code == 200
    before = _state(seeded)
    response = seeded_client.post("/v1/import", json=_extra_detail("0096", 7), headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "idempotency_mismatch"
    assert _state(seeded) == before


def test_the_same_key_on_another_path_or_query_is_a_409(seeded_client: TestClient, seeded: Database) -> None:
    headers = {"Idempotency-Key": "path-key"}
    path = "/v1/facilities/FACILITY_1/products/FG002/inventory-item"
    assert seeded_client.post(path, headers=headers).status_code == 200
    other = seeded_client.post(path + "?x=1", headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_mismatch"


def test_a_method_no_route_takes_claims_no_key(seeded_client: TestClient, seeded: Database) -> None:
    """PUT on a path that only takes POST: 405 with or without a key, and the key stays free."""
    headers = {"Idempotency-Key": "unrouted"}
    path = "/v1/facilities/FACILITY_1/products/FG002/inventory-item"
    refused = seeded_client.put(path, headers=headers)
    assert refused.status_code == 405, refused.text
    assert refused.headers["allow"] == "POST"
    assert _state(seeded)[2] == 0
    assert seeded_client.post(path, headers=headers).status_code == 200


def test_a_refused_request_is_stored_and_replayed_without_changes(
    seeded_client: TestClient, seeded: Database
) -> None:
    """4xx answers are final, as Stripe keeps them (404 aside): the retry gets the same refusal."""
    doc = [{"inventoryItemId": "FG001-INV-001", "productId": "FG002", "facilityId": "FACILITY_1"}]
    headers = {"Idempotency-Key": "refused-once"}
    first = seeded_client.post("/v1/import", json=doc, headers=headers)
    assert first.status_code == 409, first.text
    before = _state(seeded)
    again = seeded_client.post("/v1/import", json=doc, headers=headers)
    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert _state(seeded) == before


def test_a_not_found_is_not_stored(seeded_client: TestClient, seeded: Database) -> None:
    """A key sent before what it names exists must not refuse the real request for 24 hours."""
    path = "/v1/facilities/NO_SUCH_FACILITY/products/FG001/inventory-item"
    headers = {"Idempotency-Key": "too-early"}
    assert seeded_client.post(path, headers=headers).status_code == 404
    assert _state(seeded)[2] == 0
    seeded_client.post("/v1/import", json={"facilityId": "NO_SUCH_FACILITY", "facilityTypeId": "WAREHOUSE"})
    again = seeded_client.post(path, headers=headers)
    assert again.status_code == 200, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["facilityId"] == "NO_SUCH_FACILITY"


def test_a_refused_change_rolls_back_but_its_key_is_kept(seeded_client: TestClient, seeded: Database) -> None:
    """A route that fails half-way: its writes roll back (savepoint), the refusal is stored."""
    before = _state(seeded)
    bad = [
        *_extra_detail("0095", 3),
        # another item of the seed, named for another product than its own: 409 after the first record
        {"inventoryItemId": "FG002-INV-001", "productId": "FG001", "facilityId": "FACILITY_1"},
    ]
    first = seeded_client.post("/v1/import", json=bad, headers={"Idempotency-Key": "half-way"})
    assert first.status_code == 409, first.text
    assert _state(seeded) == (before[0], before[1], before[2] + 1)


@pytest.mark.parametrize("key", ["", "x" * 256, "spaces are not allowed"])
def test_a_malformed_key_is_a_400(seeded_client: TestClient, seeded: Database, key: str) -> None:
    before = _state(seeded)
    response = seeded_client.post(
        "/v1/import", json=_extra_detail("0094", 1), headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert _state(seeded) == before


@pytest.mark.parametrize("keys", [("k1", "k2"), ("k1", "k1")])
def test_two_key_headers_are_a_400(
    seeded_client: TestClient, seeded: Database, keys: tuple[str, str]
) -> None:
    """Which of two keys the sender meant is a guess: neither is used, nothing is applied."""
    before = _state(seeded)
    headers = [("Idempotency-Key", k) for k in keys]
    response = seeded_client.post("/v1/import", json=_extra_detail("0095", 1), headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["detail"]) == (
        "invalid_idempotency_key",
        "Send one Idempotency-Key header, not 2",
    )
    assert _state(seeded) == before


def test_reads_and_keyless_writes_are_untouched(seeded_client: TestClient, seeded: Database) -> None:
    assert seeded_client.get("/v1/products/FG001", headers={"Idempotency-Key": "k"}).status_code == 200
    seeded_client.post("/v1/import", json=_extra_detail("0093", 1))
    assert _state(seeded)[2] == 0


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_concurrent_requests_with_one_key_apply_once(
    seeded_client: TestClient, seeded: Database, backend: str
) -> None:
    """The second request waits on the first one's claim and then gets its stored answer (the race
    needs PostgreSQL: SQLite serialises writers outright)."""
    before = _state(seeded)
    answers: list[Any] = []
    blocker = seeded.engine.connect()
    blocker.begin()
    # Hold the item's row so the first request is still running when the second one arrives.
    blocker.execute(  # by its key: on Citus a FOR UPDATE must name the shard
        text(
            "SELECT 1 FROM inventory_item "
            "WHERE facility_id = 'FACILITY_1' AND inventory_item_id = 'FG001-INV-001' FOR UPDATE"
        )
    )

    def send() -> None:
        answers.append(
            seeded_client.post(
                "/v1/import", json=_extra_detail("0092", 4), headers={"Idempotency-Key": "race"}
            )
        )

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        waiting = _wait_for_lock_waiters(blocker, 2, backend)
    finally:
        blocker.rollback()
        blocker.close()
        for t in threads:
            t.join(30)
    assert waiting >= 2, "both requests should have waited: one on the item, one on the key"
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert sorted(a.headers.get("idempotent-replayed", "no") for a in answers) == ["no", "true"]
    assert answers[0].content == answers[1].content
    assert _state(seeded) == (before[0] + 1, before[1] + 4, 1)


def _wait_for_lock_waiters(conn: Any, wanted: int, backend: str) -> int:
    # on Citus the rows are locked on the workers: citus_stat_activity sees every node's backends
    activity = "citus_stat_activity" if backend == "citus" else "pg_stat_activity"
    waiting = 0
    for _ in range(100):
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # activity is cached per transaction
        waiting = int(
            conn.execute(
                text(
                    f"SELECT count(*) FROM {activity} WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        )
        if waiting >= wanted:
            break
        threading.Event().wait(0.05)
    return waiting
