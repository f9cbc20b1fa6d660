"""Tokens on every write endpoint: 401 without or with a wrong token, 403 for a viewer and for
a token scoped to another facility; problem+json each time, and nothing written. List reads
that name no facility show a scoped token only its facilities' rows and events.

The endpoints come from the live OpenAPI document, so a new write endpoint cannot slip
through unprotected.
"""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from stockledger.app import create_app
from stockledger.auth import service
from stockledger.auth.middleware import PrincipalCache
from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import InventoryItemDetail, Shipment
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.clock_support import FakeClock
from tests.paging_support import all_pages

WRITE_METHODS = ("post", "put", "patch", "delete")
PATH_VALUES = {"facility_id": "FACILITY_1", "product_id": "FG001", "inventory_item_id": "FG001-INV-001"}


def _write_operations() -> list[tuple[str, str]]:
    spec = create_app("sqlite:///:memory:").openapi()
    return sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in WRITE_METHODS and path.startswith("/v1/")
    )


WRITES = _write_operations()


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "X1"), path)


def _token(db: Database, role: str, facilities: list[str] | None = None) -> str:
    with db.transaction() as session:
        return service.create_token(session, role, facilities).token


def _written(db: Database) -> tuple[int, int, int]:
    with db.reading() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (InventoryItemDetail, OutboxEvent, Shipment)
        )


@pytest.fixture
def anonymous(seeded: Database, db_url: str) -> Any:
    with TestClient(create_app(db_url), raise_server_exceptions=False) as client:
        yield client


def _assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_every_write_endpoint_is_listed() -> None:
    paths = {path for _, path in WRITES}
    assert {"/v1/reservations", "/v1/receipts", "/v1/import", "/v1/external-inventory-resets"} <= paths
    assert len(WRITES) >= 19


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writes_need_a_valid_token(anonymous: TestClient, seeded: Database, method: str, path: str) -> None:
    before = _written(seeded)
    body = {"facilityId": "FACILITY_1"}
    _assert_problem(anonymous.request(method, _concrete(path), json=body), 401, "unauthorized")
    wrong = {"Authorization": "Bearer sl_nope_nope"}
    _assert_problem(anonymous.request(method, _concrete(path), json=body, headers=wrong), 401, "unauthorized")
    assert _written(seeded) == before


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_viewer_may_not_write(anonymous: TestClient, seeded: Database, method: str, path: str) -> None:
    before = _written(seeded)
    headers = {"Authorization": f"Bearer {_token(seeded, 'viewer')}"}
    response = anonymous.request(method, _concrete(path), json={"facilityId": "FACILITY_1"}, headers=headers)
    _assert_problem(response, 403, "forbidden")
    assert _written(seeded) == before


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_store_token_of_another_facility_may_not_write(
    anonymous: TestClient, seeded: Database, method: str, path: str
) -> None:
    before = _written(seeded)
    headers = {"Authorization": f"Bearer {_token(seeded, 'store', ['FACILITY_2'])}"}
    response = anonymous.request(method, _concrete(path), json={"facilityId": "FACILITY_1"}, headers=headers)
    _assert_problem(response, 403, "forbidden")
    assert _written(seeded) == before


def test_reads_need_a_token_but_any_role(anonymous: TestClient, seeded: Database) -> None:
    url = "/v1/availability?facilityId=FACILITY_1&productId=FG001"
    _assert_problem(anonymous.get(url), 401, "unauthorized")
    viewer = {"Authorization": f"Bearer {_token(seeded, 'viewer')}"}
    assert anonymous.get(url, headers=viewer).json()["quantityOnHandTotal"] == 31
    for open_path in ("/healthz", "/openapi.json", "/docs"):
        assert anonymous.get(open_path).status_code == 200


def test_a_scoped_token_cannot_reach_another_facility_through_an_item_id(
    anonymous: TestClient, seeded: Database
) -> None:
    """The body names no facility, only an item of FACILITY_1: the write path refuses it."""
    before = _written(seeded)
    headers = {"Authorization": f"Bearer {_token(seeded, 'store', ['FACILITY_2'])}"}
    body = {"inventoryItemId": "FG001-INV-001", "quantity": -1, "varianceReasonId": "VAR_LOST"}
    _assert_problem(anonymous.post("/v1/variances", json=body, headers=headers), 403, "forbidden")
    assert _written(seeded) == before
    own = {"Authorization": f"Bearer {_token(seeded, 'store', ['FACILITY_1'])}"}
    assert anonymous.post("/v1/variances", json=body, headers=own).status_code == 200


def test_a_revoked_token_works_until_its_cache_window_passes(anonymous: TestClient, seeded: Database) -> None:
    """SECURITY.md: a revoked token is refused within the principal cache's 5 seconds, and not
    before (the availability read is the fast path's on PostgreSQL, the product read the
    middleware's). The cache's clock is moved by hand: no sleeping."""
    clock = FakeClock()
    cache: PrincipalCache = anonymous.app.state.auth_cache  # type: ignore[attr-defined]
    cache.clock = clock
    with seeded.transaction() as session:
        issued = service.create_token(session, "admin")
    headers = {"Authorization": f"Bearer {issued.token}"}
    urls = ("/v1/availability?facilityId=FACILITY_1&productId=FG001", "/v1/products/FG001")
    assert [anonymous.get(url, headers=headers).status_code for url in urls] == [200, 200]
    with seeded.transaction() as session:
        service.revoke_token(session, issued.token_id)
    clock.advance(cache.seconds - 0.25)
    assert [anonymous.get(url, headers=headers).status_code for url in urls] == [200, 200]
    clock.advance(0.25)
    for url in urls:
        _assert_problem(anonymous.get(url, headers=headers), 401, "unauthorized")


def test_a_scoped_token_cannot_read_another_facility_by_id(anonymous: TestClient, seeded: Database) -> None:
    other = {"Authorization": f"Bearer {_token(seeded, 'viewer', ['FACILITY_2'])}"}
    own = {"Authorization": f"Bearer {_token(seeded, 'viewer', ['FACILITY_1'])}"}
    for path in ("/v1/inventory-items/FG001-INV-001", "/v1/inventory-items/FG001-INV-001/details"):
        _assert_problem(anonymous.get(path, headers=other), 403, "forbidden")
        assert anonymous.get(path, headers=own).status_code == 200
    oms = {"Authorization": f"Bearer {_token(seeded, 'oms')}"}
    body = {
        "orderId": "O9",
        "orderItemSeqId": "00001",
        "productId": "FG001",
        "facilityId": "FACILITY_1",
        "quantity": 1,
    }
    assert anonymous.post("/v1/reservations", json=body, headers=oms).status_code == 201
    assert anonymous.get("/v1/orders/O9/pick-suggestions", headers=own).status_code == 200
    hidden = anonymous.get("/v1/orders/O9/pick-suggestions", headers=other)
    assert (hidden.status_code, hidden.json()["items"]) == (200, [])  # none visible


def _second_facility_with_stock(db: Database) -> None:
    """FACILITY_2 with FG001 and FG002 on hand, FG003 changed in FACILITY_1: events of F1, F2 and _ALL."""
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                "VALUES ('FACILITY_2', 'FIFO', '2026-01-01')"
            )
        )
    lines = [
        RawLine(2, "FACILITY_2", "FG001", "7"),
        RawLine(3, "FACILITY_2", "FG002", "3"),
        RawLine(4, "FACILITY_1", "FG003", "12"),
    ]
    with db.transaction() as session:
        reset_inventory(session, lines, "scope test")


def test_list_reads_that_name_no_facility_show_a_scoped_token_only_its_facilities(
    anonymous: TestClient, seeded: Database
) -> None:
    _second_facility_with_stock(seeded)
    admin = {"Authorization": f"Bearer {_token(seeded, 'admin')}"}
    first = {"Authorization": f"Bearer {_token(seeded, 'viewer', ['FACILITY_1'])}"}
    second = {"Authorization": f"Bearer {_token(seeded, 'oms', ['FACILITY_2'])}"}
    both = {"Authorization": f"Bearer {_token(seeded, 'store', ['FACILITY_1', 'FACILITY_2'])}"}
    path = "/v1/product-facility-inventory"
    everything = all_pages(anonymous, path, 100, admin)
    by_facility = {f: [r for r in everything if r["facilityId"] == f] for f in ("FACILITY_1", "FACILITY_2")}
    assert len(by_facility["FACILITY_1"]) >= 3
    assert len(by_facility["FACILITY_2"]) == 2
    assert len(everything) == len(by_facility["FACILITY_1"]) + 2
    for limit in (1, 2, 100):  # the keyset cursor pages within the scope
        assert all_pages(anonymous, path, limit, first) == by_facility["FACILITY_1"]
        assert all_pages(anonymous, path, limit, second) == by_facility["FACILITY_2"]
        assert all_pages(anonymous, path, limit, both) == everything
    only_fg001 = anonymous.get(path, params={"productId": "FG001"}, headers=second).json()["items"]
    assert [(r["facilityId"], r["quantityOnHandTotal"]) for r in only_fg001] == [("FACILITY_2", 7)]
    # naming another facility is refused outright; naming its own is served
    _assert_problem(anonymous.get(path, params={"facilityId": "FACILITY_2"}, headers=first), 403, "forbidden")
    named = anonymous.get(path, params={"facilityId": "FACILITY_2"}, headers=second)
    assert named.json()["items"] == by_facility["FACILITY_2"]

    events = all_pages(anonymous, "/v1/events", 100, admin)
    assert {"FACILITY_1", "FACILITY_2", "_ALL"} <= {e["facilityId"] for e in events}
    for headers, facilities in ((first, {"FACILITY_1"}), (second, {"FACILITY_2"}), (both, None)):
        wanted = [e for e in events if facilities is None or e["facilityId"] in facilities]
        if facilities is None:  # a run spanning facilities is keyed _ALL: for unscoped callers only
            wanted = [e for e in events if e["facilityId"] in ("FACILITY_1", "FACILITY_2")]
        for limit in (1, 100):
            assert all_pages(anonymous, "/v1/events", limit, headers) == wanted
        assert wanted
