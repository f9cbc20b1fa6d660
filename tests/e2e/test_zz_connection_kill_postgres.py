"""Killed database connections (pg_terminate_backend) under a real `stockledger serve`: 503, never 500.

Every request whose connection dies answers 503 `database_unavailable` (problem+json, with
Retry-After) or succeeds through a safe retry (a read), its keep-alive connection stays open,
and nothing acknowledged is lost. The kills are made exact by holding a lock the request waits
for, then terminating the backend that waits; the last test kills every backend of the
database every 0.2 s under load.
"""

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from stockledger.auth.service import create_token
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.ledger.verify import find_mismatches
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.stress.support import Server, add_facility_and_products, fresh_database

pytestmark = pytest.mark.postgres

FACILITY = "KILL"
PRODUCTS = ["KP1", "KP2"]
STOCK = 100_000
PROBLEM_JSON = "application/problem+json"


@dataclass
class Service:
    db_url: str
    db: Database
    server: Server
    token: str
    served: list[int] = field(default_factory=list)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)

    def request(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        sent = {"Authorization": f"Bearer {self.token}", **headers}
        if body is not None:
            sent["Content-Type"] = "application/json"
        conn.request(method, path, json.dumps(body) if body is not None else None, sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with fresh_database() as db_url:
        db = Database(db_url)
        add_facility_and_products(db, FACILITY, PRODUCTS)
        with db.transaction() as session:
            lines = (RawLine(n, FACILITY, p, str(STOCK)) for n, p in enumerate(PRODUCTS, 2))
            reset_inventory(session, lines, "connection kill tests")
        server = Server(db_url, workers=1, log=Path(tmp_path_factory.mktemp("serve")) / "serve.log")
        try:
            yield Service(db_url, db, server, _token(db))
            with db.reading() as session:
                assert find_mismatches(session) == []
        finally:
            server.stop()
            db.dispose()


def _token(db: Database) -> str:
    with db.transaction() as session:
        return create_token(session, "oms", facilities=[FACILITY], description="kill tests").token


def _driver_url(service: Service) -> str:
    return service.db_url.replace("postgresql+psycopg://", "postgresql://")


def _waiting_backends(admin: psycopg.Connection[Any]) -> list[int]:
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return [row[0] for row in admin.execute(query).fetchall()]


def _wait_for_waiter(admin: psycopg.Connection[Any], not_in: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        waiting = [pid for pid in _waiting_backends(admin) if pid not in not_in]
        if waiting:
            return waiting[0]
        time.sleep(0.02)
    raise AssertionError("the request never waited for the lock")


def _kill(admin: psycopg.Connection[Any], pid: int) -> None:
    assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)


def _under_lock(
    service: Service, lock_sql: str, send: Callable[[], Any], retried: bool = False, kill_retry: bool = False
) -> Any:
    """Run `send()` while another transaction holds the lock of `lock_sql`; kill the backend that
    waits for it (and, when the request retries, check that it waits again, and kill that one
    too if `kill_retry`), then release."""
    answer: list[Any] = []
    with psycopg.connect(_driver_url(service), autocommit=True) as admin:
        with psycopg.connect(_driver_url(service)) as holder:
            holder.execute(lock_sql)
            thread = threading.Thread(target=lambda: answer.append(send()))
            thread.start()
            first = _wait_for_waiter(admin)
            _kill(admin, first)
            if retried or kill_retry:
                second = _wait_for_waiter(admin, not_in={first})
                if kill_retry:
                    _kill(admin, second)
            holder.rollback()
        thread.join(30)
    assert answer, "no answer"
    return answer[0]


def _reservation(order_id: str, product: str = "KP1", quantity: int = 1) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": product,
        "facilityId": FACILITY,
        "quantity": quantity,
    }


def _order(product_quantities: dict[str, int]) -> dict[str, Any]:
    items = [
        {"orderItemSeqId": f"{n:05d}", "productId": p, "quantity": q}
        for n, (p, q) in enumerate(product_quantities.items(), 1)
    ]
    return {"facilityId": FACILITY, "items": items}


def _atp(db: Database) -> dict[str, Decimal]:
    with db.reading() as session:
        i = InventoryItem
        rows = (
            session.execute(
                select(i.product_id, func.sum(i.available_to_promise_total))
                .where(i.facility_id == FACILITY)
                .group_by(i.product_id)
            )
            .tuples()
            .all()
        )
    return dict(rows)


def _reserved(db: Database, order_id: str) -> Decimal:
    with db.reading() as session:
        r = OrderItemInventoryReservation
        total = session.scalar(select(func.sum(r.quantity)).where(r.order_id == order_id))
    return total or Decimal(0)


def _assert_unavailable(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 503, body
    assert headers["content-type"] == PROBLEM_JSON
    assert headers["retry-after"] == "2"
    assert json.loads(body)["code"] == "database_unavailable"


LOCK_ITEMS = f"SELECT 1 FROM inventory_item WHERE facility_id = '{FACILITY}' FOR UPDATE"

WRITES: dict[str, tuple[str, Callable[[str], dict[str, Any]], bool]] = {
    "reservation on the event loop": ("/v1/reservations", _reservation, False),
    "reservation with an Idempotency-Key": ("/v1/reservations", _reservation, True),
    "order in a session": ("/v1/orders/{oid}/reserve", lambda _: _order({"KP1": 1, "KP2": 2}), False),
}


@pytest.mark.parametrize("route", list(WRITES))
def test_a_write_whose_connection_dies_mid_statement_is_503_and_changes_nothing(
    service: Service, route: str
) -> None:
    path, body_of, keyed = WRITES[route]
    order_id = f"W-{uuid.uuid4().hex[:10]}"
    path = path.format(oid=order_id)
    headers = {"Idempotency-Key": order_id} if keyed else {}
    before = _atp(service.db)
    conn = service.connection()

    answer = _under_lock(
        service, LOCK_ITEMS, lambda: service.request(conn, "POST", path, body_of(order_id), **headers)
    )
    _assert_unavailable(*answer)
    assert _atp(service.db) == before
    assert _reserved(service.db, order_id) == 0

    # The same keep-alive connection, the same request (and key): it is applied now, once.
    status, _, body = service.request(conn, "POST", path, body_of(order_id), **headers)
    assert status == (200 if "order" in route else 201), body
    assert _reserved(service.db, order_id) == (3 if "order" in route else 1)
    conn.close()


def test_an_availability_read_whose_connection_dies_is_retried_on_the_fast_path(service: Service) -> None:
    conn = service.connection()
    path = f"/v1/availability?facilityId={FACILITY}&productId=KP2"
    status, _, _ = service.request(conn, "GET", path)  # the token is cached: the fast path serves
    assert status == 200
    expected = _atp(service.db)["KP2"]

    status, _headers, body = _under_lock(
        service,
        "LOCK TABLE inventory_item IN ACCESS EXCLUSIVE MODE",
        lambda: service.request(conn, "GET", path),
        retried=True,
    )
    assert status == 200, body
    assert Decimal(str(json.loads(body)["availableToPromiseTotal"])) == expected
    conn.close()


def test_a_token_lookup_whose_connection_dies_is_503_and_keeps_the_connection(service: Service) -> None:
    fresh = _token(service.db)  # not cached yet: the auth middleware reads it
    conn = service.connection()
    path = f"/v1/availability?facilityId={FACILITY}&productId=KP1"

    def send() -> tuple[int, dict[str, str], bytes]:
        conn.request("GET", path, headers={"Authorization": f"Bearer {fresh}"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    # The lookup is a read, retried once on a fresh connection: both connections are killed.
    lock = "LOCK TABLE api_token IN ACCESS EXCLUSIVE MODE"
    _assert_unavailable(*_under_lock(service, lock, send, kill_retry=True))
    status, _, body = send()  # on the same connection: uvicorn did not close it
    assert status == 200, body
    conn.close()


def test_every_backend_killed_every_200_ms_under_load_gives_no_500_and_loses_nothing(
    service: Service,
) -> None:
    before = _atp(service.db)
    stop, kills = threading.Event(), Counter[str]()
    killer = threading.Thread(target=_kill_repeatedly, args=(service, stop, kills))
    clients = [_LoadClient(service, n) for n in range(6)]
    threads = [threading.Thread(target=c.run) for c in clients]
    killer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    killer.join(10)

    statuses = Counter[str]()
    for c in clients:
        statuses.update(c.statuses)
    assert kills["backends"] > 0
    assert [c.unexpected for c in clients if c.unexpected] == []
    assert {s.rsplit(" ", 1)[1] for s in statuses} <= {"200", "201", "503"}, statuses
    assert any(s.endswith(" 503") for s in statuses), statuses  # the kills did hit requests
    after = _atp(service.db)
    for product in PRODUCTS:
        acknowledged = sum(c.acknowledged[product] for c in clients)
        unknown = sum(c.unknown[product] for c in clients)  # a 503 whose COMMIT may have landed
        consumed = before[product] - after[product]
        assert acknowledged <= consumed <= acknowledged + unknown, (product, acknowledged, unknown, consumed)
    for c in clients:
        for order_id, quantity in c.orders:
            assert _reserved(service.db, order_id) == quantity, order_id  # nothing acknowledged is lost


def _kill_repeatedly(service: Service, stop: threading.Event, kills: Counter[str]) -> None:
    with psycopg.connect(_driver_url(service), autocommit=True) as admin:
        while not stop.wait(0.2):
            row = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            ).fetchone()
            kills["backends"] += row[0] if row else 0


class _LoadClient:
    """40 requests: reservations (event loop, keyed, whole orders) and availability reads."""

    def __init__(self, service: Service, number: int) -> None:
        self.service, self.number = service, number
        self.statuses = Counter[str]()
        self.acknowledged, self.unknown = Counter[str](), Counter[str]()
        self.orders: list[tuple[str, int]] = []
        self.unexpected: list[str] = []

    def run(self) -> None:
        conn = self.service.connection()
        try:
            for n in range(40):
                self._one(conn, n)
        except Exception as exc:  # a transport error (a closed keep-alive connection) is a finding
            self.unexpected.append(repr(exc))
        finally:
            conn.close()

    def _one(self, conn: http.client.HTTPConnection, n: int) -> None:
        kind = n % 4
        if kind == 3:
            path = f"/v1/availability?facilityId={FACILITY}&productId=KP{1 + n % 2}"
            self._check("GET availability", self.service.request(conn, "GET", path), {200})
            return
        order_id, product = f"L{self.number}-{n}-{uuid.uuid4().hex[:6]}", "KP1" if kind == 0 else "KP2"
        headers = {"Idempotency-Key": order_id} if kind == 1 else {}
        if kind == 2:
            answer = self.service.request(
                conn, "POST", f"/v1/orders/{order_id}/reserve", _order({product: 2})
            )
            created = 200
        else:
            answer = self.service.request(
                conn, "POST", "/v1/reservations", _reservation(order_id, product, 2), **headers
            )
            created = 201
        if self._check(f"POST kind {kind}", answer, {created}):
            self.acknowledged[product] += 2
            self.orders.append((order_id, 2))
        elif answer[0] == 503:
            self.unknown[product] += 2

    def _check(self, label: str, answer: tuple[int, dict[str, str], bytes], ok: set[int]) -> bool:
        status, headers, body = answer
        self.statuses[f"{label} {status}"] += 1
        if status == 503:
            if headers.get("retry-after") != "2" or json.loads(body).get("code") != "database_unavailable":
                self.unexpected.append(f"{label} 503 without Retry-After or code: {headers} {body[:200]!r}")
            return False
        if status not in ok:
            self.unexpected.append(f"{label} {status}: {body[:300]!r}")
            return False
        return True
