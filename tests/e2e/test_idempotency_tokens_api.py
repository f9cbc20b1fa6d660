"""An Idempotency-Key belongs to the token that sent it (SPEC §11): another token's request with
the same key runs as a fresh request of its own, never gets, waits on or is refused because of
the first token's answer; a replay passes the same authentication as a fresh request."""

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from stockledger.app import create_app
from stockledger.auth import service
from stockledger.core.db import Database
from stockledger.idempotency.models import IdempotencyKey
from stockledger.ledger.models import OrderItemInventoryReservation
from tests.conftest import POSTGRES_LIKE
from tests.e2e.test_idempotency_api import _extra_detail, _wait_for_lock_waiters
from tests.scope_support import bearer, second_facility

REJECT = {"rejectionMode": "RELEASE"}


def _reservation(order_id: str, facility_id: str = "FACILITY_1", quantity: int = 1) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": "FG001",
        "facilityId": facility_id,
        "quantity": quantity,
    }


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def _reservations(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(OrderItemInventoryReservation)) or 0)


def _keys(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


def _atp(client: TestClient, facility_id: str = "FACILITY_1") -> Any:
    url = f"/v1/availability?facilityId={facility_id}&productId=FG001"
    return client.get(url).json()["availableToPromiseTotal"]


def test_another_tokens_reject_answer_is_not_replayed(seeded_client: TestClient, seeded: Database) -> None:
    """The issue's case: a FACILITY_1 token sends the key of a FACILITY_2 rejection."""
    second_facility(seeded)
    owner = bearer(seeded, "oms", ["FACILITY_2"])
    assert (
        seeded_client.post(
            "/v1/reservations", json=_reservation("O-F2", "FACILITY_2"), headers=owner
        ).status_code
        == 201
    )
    path = "/v1/orders/O-F2/items/00001/reject"
    first = seeded_client.post(path, json=REJECT, headers=_keyed(owner, "reject-1"))
    assert first.status_code == 200, first.text
    assert first.json()["facilityId"] == "FACILITY_2"

    intruder = bearer(seeded, "store", ["FACILITY_1"])
    unkeyed = seeded_client.post(path, json=REJECT, headers=intruder)
    keyed = seeded_client.post(path, json=REJECT, headers=_keyed(intruder, "reject-1"))
    assert keyed.status_code == unkeyed.status_code == 404  # nothing of its own reserved there
    assert "idempotent-replayed" not in keyed.headers
    assert keyed.json()["detail"] == unkeyed.json()["detail"]
    assert "FACILITY_2" not in keyed.text

    again = seeded_client.post(path, json=REJECT, headers=_keyed(owner, "reject-1"))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


def test_another_token_with_the_same_key_runs_afresh_on_the_hot_route(
    seeded_client: TestClient, seeded: Database
) -> None:
    """POST /v1/reservations takes its keyed path (one transaction with the key) for both."""
    before = _atp(seeded_client)
    first_token, second_token = bearer(seeded, "oms"), bearer(seeded, "oms")
    body = _reservation("O-HOT")
    first = seeded_client.post("/v1/reservations", json=body, headers=_keyed(first_token, "hot-1"))
    second = seeded_client.post("/v1/reservations", json=body, headers=_keyed(second_token, "hot-1"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert "idempotent-replayed" not in second.headers
    assert second.json()["quantityReserved"] == 1
    assert _atp(seeded_client) == before - 2
    assert _keys(seeded) == 2
    replay = seeded_client.post("/v1/reservations", json=body, headers=_keyed(second_token, "hot-1"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == second.content
    assert _atp(seeded_client) == before - 2


def test_another_tokens_key_on_another_request_is_no_mismatch(
    seeded_client: TestClient, seeded: Database
) -> None:
    """The 409 would tell the second caller the first one's method and path."""
    first_token, second_token = bearer(seeded, "oms"), bearer(seeded, "oms")
    assert (
        seeded_client.post(
            "/v1/reservations", json=_reservation("O-A"), headers=_keyed(first_token, "k")
        ).status_code
        == 201
    )
    other = seeded_client.post(
        "/v1/reservations", json=_reservation("O-B"), headers=_keyed(second_token, "k")
    )
    assert other.status_code == 201, other.text
    assert other.json()["orderId"] == "O-B"
    mismatch = seeded_client.post(
        "/v1/reservations", json=_reservation("O-C"), headers=_keyed(first_token, "k")
    )
    assert mismatch.status_code == 409
    assert mismatch.json()["code"] == "idempotency_mismatch"


def test_a_key_claimed_by_another_token_does_not_block_the_real_request(
    seeded_client: TestClient, seeded: Database
) -> None:
    """Another token sends the key first with a request that is refused for good (422)."""
    squatter, owner = bearer(seeded, "oms"), bearer(seeded, "oms")
    bad = {**_reservation("O-REAL"), "fill": "NOT_A_FILL"}
    refused = seeded_client.post("/v1/reservations", json=bad, headers=_keyed(squatter, "real-key"))
    assert refused.status_code == 422
    assert _keys(seeded) == 1  # a final refusal is kept, for its own token
    real = seeded_client.post(
        "/v1/reservations", json=_reservation("O-REAL"), headers=_keyed(owner, "real-key")
    )
    assert real.status_code == 201, real.text
    assert _reservations(seeded) == 1


def test_a_404_is_not_stored_so_the_key_works_once_the_order_exists(
    seeded_client: TestClient, seeded: Database
) -> None:
    oms = bearer(seeded, "oms")
    path = "/v1/orders/O-LATER/items/00001/reject"
    early = seeded_client.post(path, json=REJECT, headers=_keyed(oms, "later"))
    assert early.status_code == 404
    assert _keys(seeded) == 0
    assert (
        seeded_client.post("/v1/reservations", json=_reservation("O-LATER"), headers=oms).status_code == 201
    )
    late = seeded_client.post(path, json=REJECT, headers=_keyed(oms, "later"))
    assert late.status_code == 200, late.text
    assert "idempotent-replayed" not in late.headers
    assert late.json()["quantityReleased"] == 1
    assert _keys(seeded) == 1


def test_a_revoked_token_gets_no_replay(seeded_client: TestClient, seeded: Database, db_url: str) -> None:
    """The revocation seen by another worker (its own principal cache): 401, not the stored answer."""
    with seeded.transaction() as session:
        issued = service.create_token(session, "oms")
    headers = _keyed({"Authorization": f"Bearer {issued.token}"}, "revoked-key")
    assert (
        seeded_client.post("/v1/reservations", json=_reservation("O-REV"), headers=headers).status_code == 201
    )
    with seeded.transaction() as session:
        service.revoke_token(session, issued.token_id)
    with TestClient(create_app(db_url), raise_server_exceptions=False) as other_worker:
        refused = other_worker.post("/v1/reservations", json=_reservation("O-REV"), headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert "idempotent-replayed" not in refused.headers


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_another_tokens_running_request_does_not_hold_up_the_key(
    seeded_client: TestClient, seeded: Database, backend: str
) -> None:
    """Waiting on the first token's claim (or a 409 in progress) would tell the second token the
    key is in use. PostgreSQL only: SQLite serialises every writer anyway."""
    first_token, second_token = bearer(seeded, "admin"), bearer(seeded, "oms")
    answers: list[Any] = []
    blocker = seeded.engine.connect()
    blocker.begin()
    blocker.execute(text("SELECT 1 FROM inventory_item WHERE inventory_item_id = 'FG001-INV-001' FOR UPDATE"))

    def held() -> None:  # claims ('_', its token, 'busy'), then waits on the item row
        headers = _keyed(first_token, "busy")
        answers.append(seeded_client.post("/v1/import", json=_extra_detail("0091", 1), headers=headers))

    thread = threading.Thread(target=held, daemon=True)
    try:
        thread.start()
        assert _wait_for_lock_waiters(blocker, 1, backend) == 1
        path = "/v1/orders/O-NONE/items/00001/reject"  # no facility in the body either: key scope '_'
        other = seeded_client.post(path, json=REJECT, headers=_keyed(second_token, "busy"))
    finally:
        blocker.rollback()
        blocker.close()
        thread.join(30)
    assert other.status_code == 404, other.text
    assert other.json()["code"] == "not_found"
    assert [a.status_code for a in answers] == [200]
