"""POST /v1/reservations answered in front of FastAPI (reservations.fast_reserve) on PostgreSQL.

Every case is sent twice: once with the fast path on, once with it off (the full stack alone),
and the two answers are compared field by field: status, every header, Content-Length, body
(the orderId aside where each reservation needs its own order). Which of the two answered is
seen from the outside (tests/fast_path_support.py): a plain reservation never reaches the
middleware stack; anything else does, with its body replayed, and a call that failed in the
fast path is answered by the route with that error.
"""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from prometheus_client import REGISTRY

from stockledger.app import StockledgerApp, create_app
from stockledger.auth.service import create_token
from stockledger.core.db import Database
from stockledger.ledger import views
from stockledger.ledger.verify import find_mismatches
from stockledger.reservations import service
from tests.conftest import POSTGRES_LIKE
from tests.fast_path_support import full_stack_requests
from tests.shipping_support import FACILITY
from tests.stock_support import add_sole_item

PATH = "/v1/reservations"
ROUTED = [f"{PATH}?"]
SOLO = "FAST-SOLO"
JSON = "application/json"
on_postgres = pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)


@pytest.fixture
def pg_client(seeded: Database, client: TestClient) -> TestClient:
    add_sole_item(seeded, SOLO, 50)
    client.get("/v1/availability?facilityId=FACILITY_1&productId=FG001")  # the admin token, cached
    return client


def _body(order_id: str, product_id: str = SOLO, quantity: Any = 1, **extra: Any) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": product_id,
        "facilityId": FACILITY,
        "quantity": quantity,
        **extra,
    }


def _full_stack(client: TestClient, **request: Any) -> Response:
    app: StockledgerApp = client.app  # type: ignore[assignment]
    fast, app.reservation_fast_path = app.reservation_fast_path, None
    try:
        return client.post(PATH, **request)
    finally:
        app.reservation_fast_path = fast


def _fields(answer: Response, *, order_id: bool = True) -> tuple[Any, ...]:
    body = answer.json()
    if not order_id and isinstance(body, dict):
        body.pop("orderId", None)
    headers = sorted((k, v) for k, v in answer.headers.items() if k != "content-length")
    return answer.status_code, headers, int(answer.headers["content-length"]), body


@on_postgres
def test_a_plain_reservation_is_answered_fast_as_the_route_answers_it(pg_client: TestClient) -> None:
    for n, extra in enumerate([{}, {"fill": "PARTIAL"}, {"allowExpired": True}]):
        with full_stack_requests(pg_client) as routed:
            fast = pg_client.post(PATH, json=_body(f"FAST-{n}", **extra))
        assert routed == []
        route = _full_stack(pg_client, json=_body(f"FULL-{n}", **extra))
        assert fast.status_code == 201
        assert fast.json()["orderId"] == f"FAST-{n}"
        assert _fields(fast, order_id=False) == _fields(route, order_id=False)
    seen = views.availability(pg_client.app.state.db, FACILITY, SOLO)  # type: ignore[attr-defined]
    assert seen.available_to_promise_total == Decimal(44)
    _verified(pg_client)


@on_postgres
def test_partial_answers_and_their_outcomes_match(pg_client: TestClient) -> None:
    # 50 units: 30 fast (201), then 30 PARTIAL each way: 20 reserved, 10 unreserved; then nothing.
    assert pg_client.post(PATH, json=_body("P-0", quantity=30)).status_code == 201
    with full_stack_requests(pg_client) as routed:
        fast = pg_client.post(PATH, json=_body("P-1", quantity=10, fill="PARTIAL"))
    assert routed == []
    route = _full_stack(pg_client, json=_body("P-2", quantity=20, fill="PARTIAL"))
    assert (fast.status_code, route.status_code) == (201, 201)
    assert route.json()["quantityUnreserved"] == 10
    with full_stack_requests(pg_client) as routed:
        fast = pg_client.post(PATH, json=_body("P-3", quantity=5, fill="PARTIAL"))
    assert routed == []
    route = _full_stack(pg_client, json=_body("P-4", quantity=5, fill="PARTIAL"))
    assert fast.status_code == 200  # nothing there: nothing created
    assert _fields(fast, order_id=False) == _fields(route, order_id=False)


REFUSED = [
    pytest.param({"json": _body("R-1", quantity=1000)}, 409, id="insufficient-stock"),
    pytest.param({"json": _body("R-2", product_id="NO-SUCH")}, 404, id="unknown-product"),
    pytest.param({"json": _body("R-3", quantity=0)}, 422, id="not-positive"),
    pytest.param({"json": _body("R-4", unitCst=1)}, 422, id="unknown-member"),
    pytest.param({"json": _body("R-5", quantity="1.0000000000000000000000001")}, 422, id="past-6-decimals"),
    pytest.param({"json": [_body("R-6")]}, 422, id="a-list"),
    pytest.param(
        {"content": b'{"orderId": ', "headers": {"Content-Type": "application/json"}}, 400, id="bad-json"
    ),
    pytest.param({"content": b"", "headers": {"Content-Type": JSON}}, 422, id="no-body"),
    pytest.param({"content": b"orderId=R-7", "headers": {"Content-Type": "text/plain"}}, 415, id="not-json"),
    pytest.param({"json": _body("R-8", orderId="R\u0000")}, 422, id="nul-in-body"),
    pytest.param({"json": _body("R-9", facilityId="NO-SUCH")}, 404, id="unknown-facility"),
    pytest.param({"json": _body("R-10"), "headers": {"Authorization": "Bearer nope"}}, 401, id="bad-token"),
    pytest.param({"json": _body("R-11"), "params": {"facilityId": FACILITY}}, 201, id="a-query"),
]


@on_postgres
@pytest.mark.parametrize(("request_", "status"), REFUSED)
def test_anything_else_is_answered_by_the_full_stack_alike(
    pg_client: TestClient, request_: dict[str, Any], status: int
) -> None:
    with full_stack_requests(pg_client) as routed:
        fast = pg_client.post(PATH, **request_)
    assert len(routed) == 1
    assert routed[0].startswith(ROUTED[0])
    route = _full_stack(pg_client, **_other_order(request_))
    assert fast.status_code == status
    assert _fields(fast, order_id=status >= 300) == _fields(route, order_id=status >= 300)
    _verified(pg_client)


def _verified(client: TestClient) -> None:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    with db.reading() as session:
        assert find_mismatches(session) == []


def _other_order(request_: dict[str, Any]) -> dict[str, Any]:
    """The same request for the full stack; a reservation that succeeds needs its own order
    (an id of the same length: the same Content-Length)."""
    body = request_.get("json")
    if isinstance(body, dict):
        return {**request_, "json": {**body, "orderId": "Z" + body["orderId"][1:]}}
    return request_


@on_postgres
def test_a_call_that_failed_fast_is_not_made_again(
    pg_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    reserve = service.reserve_line_async

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return await reserve(*args, **kwargs)

    monkeypatch.setattr(service, "reserve_line_async", counted)
    with full_stack_requests(pg_client) as routed:
        refused = pg_client.post(PATH, json=_body("X-1", quantity=1000))
    assert routed == ROUTED  # the route answered, with the error of the fast path's call
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    assert calls == ["X-1"]


@on_postgres
def test_a_keyed_request_is_the_full_stacks_and_replays(pg_client: TestClient) -> None:
    headers = {"Idempotency-Key": "fast-path-key-1"}
    with full_stack_requests(pg_client) as routed:
        first = pg_client.post(PATH, json=_body("K-1"), headers=headers)
        again = pg_client.post(PATH, json=_body("K-1"), headers=headers)
    assert routed == ROUTED * 2
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert first.content == again.content


@on_postgres
def test_a_token_of_other_facilities_is_refused_by_the_full_stack(
    pg_client: TestClient, seeded: Database
) -> None:
    with seeded.transaction() as session:
        other = create_token(session, "oms", ["FACILITY_2"]).token
    own = {"Authorization": f"Bearer {other}"}
    answers = []
    with full_stack_requests(pg_client) as routed:
        for n in range(2):  # the first reads the token (and caches it), the second is cached
            answers.append(pg_client.post(PATH, json=_body(f"F-{n}"), headers=own))
    assert routed == ROUTED * 2
    assert [a.status_code for a in answers] == [403, 403]
    assert _fields(answers[1]) == _fields(_full_stack(pg_client, json=_body("F-1"), headers=own))


@on_postgres
def test_a_fast_answer_is_counted_in_the_metrics(pg_client: TestClient) -> None:
    labels = {"method": "POST", "route": PATH, "status": "201"}
    requests = REGISTRY.get_sample_value("stockledger_request_duration_seconds_count", labels) or 0.0
    outcome = {"outcome": "reserved"}
    reserved = REGISTRY.get_sample_value("stockledger_reservations_total", outcome) or 0.0
    with full_stack_requests(pg_client) as routed:
        assert pg_client.post(PATH, json=_body("M-1")).status_code == 201
    assert routed == []
    assert REGISTRY.get_sample_value("stockledger_request_duration_seconds_count", labels) == requests + 1
    assert REGISTRY.get_sample_value("stockledger_reservations_total", outcome) == reserved + 1


@on_postgres
def test_each_fast_outcome_is_counted_as_the_middleware_reads_it(pg_client: TestClient) -> None:
    """The fast path counts its outcome from the line it reserved (metrics.served_outcome), not by
    reading its answer again: partial and backorder as the middleware counts the route's."""

    def counted(outcome: str) -> float:
        return REGISTRY.get_sample_value("stockledger_reservations_total", {"outcome": outcome}) or 0.0

    before = {o: counted(o) for o in ("reserved", "partial", "backorder")}
    sent = [("O-1", 45, "ALL_OR_NOTHING"), ("O-2", 10, "PARTIAL"), ("O-3", 3, "BACKORDER")]
    with full_stack_requests(pg_client) as routed:  # 50 units: 45, then 5 of 10, then 0 of 3
        statuses = [pg_client.post(PATH, json=_body(o, quantity=q, fill=f)).status_code for o, q, f in sent]
    assert routed == []
    assert statuses == [201, 201, 201]
    after = {o: counted(o) - before[o] for o in before}
    assert after == {"reserved": 1, "partial": 1, "backorder": 1}


@on_postgres
def test_an_event_is_written_by_either_path(pg_client: TestClient) -> None:
    since = pg_client.get("/v1/events", params={"limit": 1000}).json()["items"]
    assert pg_client.post(PATH, json=_body("E-1")).status_code == 201
    assert _full_stack(pg_client, json=_body("E-2")).status_code == 201
    items = pg_client.get("/v1/events", params={"limit": 1000}).json()["items"]
    new = [e for e in items if e not in since]
    kinds = sorted((e["eventType"], e["payload"].get("orderId")) for e in new)
    fast_kinds = sorted(k for k, order in kinds if order == "E-1")
    route_kinds = sorted(k for k, order in kinds if order == "E-2")
    assert fast_kinds == route_kinds != []


@pytest.fixture
def closed_pool_client(pg_client: TestClient) -> Iterator[TestClient]:
    db: Database = pg_client.app.state.db  # type: ignore[attr-defined]
    pool, db.async_pool = db.async_pool, None
    yield pg_client
    db.async_pool = pool


@on_postgres
def test_without_the_async_pool_the_route_answers(closed_pool_client: TestClient) -> None:
    with full_stack_requests(closed_pool_client) as routed:
        assert closed_pool_client.post(PATH, json=_body("C-1")).status_code == 201
    assert routed == ROUTED


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_the_route_answers(seeded: Database, db_url: str, admin_token: str) -> None:
    add_sole_item(seeded, SOLO, 5)
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(create_app(db_url), headers=headers) as client, full_stack_requests(client) as routed:
        for n in range(2):
            assert client.post(PATH, json=_body(f"S-{n}")).status_code == 201
    assert routed == ROUTED * 2
