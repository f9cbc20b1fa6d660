"""GET /v1/availability answered in front of FastAPI (ledger.fast_availability) on PostgreSQL.

The fast path must answer exactly what the route answers, and decline (send nothing) whenever
it could not: then the full stack serves the request, errors and refusals included. Which of
the two answered is seen from the outside: a request the fast path answers never reaches
FastAPI's middleware stack (tests/fast_path_support.py).
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from stockledger.app import StockledgerApp, create_app
from stockledger.auth.middleware import PrincipalCache
from stockledger.auth.service import create_token, revoke_token
from stockledger.core.db import Database
from tests.clock_support import FakeClock
from tests.conftest import POSTGRES_LIKE
from tests.fast_path_support import full_stack_requests

URL = "/v1/availability?facilityId=FACILITY_1&productId=FG001"
# The fast path needs the async pool: PostgreSQL (and Citus). SQLite: the last tests.
on_postgres = pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)


def _token(db: Database, role: str, facilities: list[str] | None = None) -> dict[str, str]:
    with db.transaction() as session:
        issued = create_token(session, role, facilities)
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def pg_client(seeded: Database, client: TestClient) -> TestClient:
    client.get(URL)  # the admin token's principal is read once, by the full stack, and cached
    return client


def _served_by_route(
    client: TestClient, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    """The same request through the full stack (fast path switched off for it)."""
    app: StockledgerApp = client.app  # type: ignore[assignment]
    fast, app.availability_fast_path = app.availability_fast_path, None
    try:
        answer = client.get(url)
    finally:
        app.availability_fast_path = fast
    return answer.status_code, answer.headers["content-type"], answer.content


@on_postgres
def test_a_plain_read_is_answered_by_the_fast_path_with_the_routes_bytes(
    pg_client: TestClient,
) -> None:
    for product in ("FG001", "FG002", "FG003"):
        url = f"/v1/availability?facilityId=FACILITY_1&productId={product}"
        with full_stack_requests(pg_client) as routed:
            answer = pg_client.get(url)
        assert routed == []
        assert (answer.status_code, answer.headers["content-type"], answer.content) == _served_by_route(
            pg_client, url
        )
        assert answer.headers["content-length"] == str(len(answer.content))
        assert answer.json()["productId"] == product


@on_postgres
def test_the_fast_path_sees_every_committed_change(pg_client: TestClient) -> None:
    before = pg_client.get(URL).json()
    body = {"inventoryItemId": "FG001-INV-001", "quantity": -2, "varianceReasonId": "VAR_LOST"}
    assert pg_client.post("/v1/variances", json=body).status_code == 200
    with full_stack_requests(pg_client) as routed:
        after = pg_client.get(URL).json()
    assert routed == []
    assert after["quantityOnHandTotal"] == before["quantityOnHandTotal"] - 2
    assert after["availableToPromiseTotal"] == before["availableToPromiseTotal"] - 2


@on_postgres
@pytest.mark.parametrize(
    "query",
    [
        "facilityId=FACILITY_1&productId=NOPE",  # 404 from the route
        "facilityId=NOWHERE&productId=FG001",  # 404
        "facilityId=FACILITY_1&productId=",  # 422
        "facilityId=FACILITY_1",  # 422
        "facilityId=FACILITY_1&productId=FG001&productId=FG002",  # repeated: the route's rule
        "facilityId=FACILITY_1&productId=FG001&asOf=2020-01-01T00:00:00Z",  # a replay
        "facilityId=FACILITY_1&productId=FG001&extra=1",
    ],
)
def test_anything_but_the_plain_read_is_left_to_the_route(pg_client: TestClient, query: str) -> None:
    with full_stack_requests(pg_client) as routed:
        answer = pg_client.get(f"/v1/availability?{query}")
    assert routed == [f"/v1/availability?{query}"]
    expected = _served_by_route(pg_client, f"/v1/availability?{query}")
    assert (answer.status_code, answer.headers["content-type"], answer.content) == expected


@on_postgres
def test_refusals_come_from_the_auth_middleware(pg_client: TestClient, seeded: Database) -> None:
    other = _token(seeded, "viewer", ["FACILITY_2"])
    with full_stack_requests(pg_client) as routed:
        assert pg_client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert pg_client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401  # cached None
        for _ in range(2):  # the second time its principal is cached: still the middleware's 403
            answer = pg_client.get(URL, headers=other)
            assert answer.status_code == 403
            assert answer.headers["content-type"] == "application/problem+json"
    assert routed == [URL] * 4


@on_postgres
def test_a_new_token_is_read_by_the_full_stack_once_then_served_fast(
    pg_client: TestClient, seeded: Database
) -> None:
    own = _token(seeded, "viewer", ["FACILITY_1"])
    with full_stack_requests(pg_client) as routed:
        assert pg_client.get(URL, headers=own).status_code == 200
        assert routed == [URL]
        assert pg_client.get(URL, headers=own).status_code == 200
    assert routed == [URL]


@on_postgres
def test_a_revoked_token_is_served_fast_until_its_cache_window_passes(
    pg_client: TestClient, seeded: Database
) -> None:
    """The fast path trusts the principal cache as the middleware does: a revoked token is still
    answered within the window (SECURITY.md: 5 s), then refused by the middleware. The cache's
    clock is moved by hand: no sleeping."""
    clock = FakeClock()
    cache: PrincipalCache = pg_client.app.state.auth_cache  # type: ignore[attr-defined]
    cache.clock = clock
    with seeded.transaction() as session:
        issued = create_token(session, "viewer")
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert pg_client.get(URL, headers=headers).status_code == 200  # read and cached by the full stack
    with seeded.transaction() as session:
        revoke_token(session, issued.token_id)
    clock.advance(cache.seconds - 0.25)
    with full_stack_requests(pg_client) as routed:
        assert pg_client.get(URL, headers=headers).status_code == 200
        assert routed == []
        clock.advance(0.25)
        refused = pg_client.get(URL, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
    assert routed == [URL]


@on_postgres
def test_the_web_cookie_is_left_to_the_route(pg_client: TestClient, admin_token: str) -> None:
    cookie = {"Authorization": "", "Cookie": f"stockledger_token={admin_token}"}
    with full_stack_requests(pg_client) as routed:
        assert pg_client.get(URL, headers=cookie).status_code == 200
        assert pg_client.get(URL, headers={"Authorization": ""}).status_code == 401
    assert routed == [URL] * 2


@on_postgres
def test_a_fast_answer_is_counted_in_the_request_metrics(pg_client: TestClient) -> None:
    labels = {"method": "GET", "route": "/v1/availability", "status": "200"}
    count = REGISTRY.get_sample_value("stockledger_request_duration_seconds_count", labels) or 0.0
    with full_stack_requests(pg_client) as routed:
        assert pg_client.get(URL).status_code == 200
    assert routed == []  # so the metrics middleware did not count it: the fast path did
    assert REGISTRY.get_sample_value("stockledger_request_duration_seconds_count", labels) == count + 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_the_route_answers(seeded: Database, db_url: str, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(create_app(db_url), headers=headers) as client, full_stack_requests(client) as routed:
        for _ in range(2):
            assert client.get(URL).status_code == 200
    assert routed == [URL] * 2


@pytest.fixture
def closed_pool_client(pg_client: TestClient) -> Iterator[TestClient]:
    db: Database = pg_client.app.state.db  # type: ignore[attr-defined]
    pool, db.async_pool = db.async_pool, None
    yield pg_client
    db.async_pool = pool


@on_postgres
def test_without_the_async_pool_the_route_answers(closed_pool_client: TestClient) -> None:
    with full_stack_requests(closed_pool_client) as routed:
        assert closed_pool_client.get(URL).status_code == 200
    assert routed == [URL]
