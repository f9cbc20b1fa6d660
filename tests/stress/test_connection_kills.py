"""Database connections killed under load over real HTTP (PostgreSQL): never a 500, nothing lost.

`stockledger serve --workers 2` on a fresh database; CLIENTS threads, each on one keep-alive
connection, make STOCKLEDGER_STRESS_KILL_REQUESTS requests (CI: 320; `make stress`: 20,000):
single reservations (on the event loop, and with an Idempotency-Key), whole orders,
cancellations and availability reads, while every backend of the database is terminated
(pg_terminate_backend) every 0.5 s. Then:

- every answer is a 2xx, a 409 `insufficient_stock`, or a 503 `database_unavailable` with
  Retry-After; no 500, no transport error (no keep-alive connection closed under a client);
- nothing acknowledged is lost: every reservation a client was told of (and did not try to
  cancel) is active with its quantity, and per product the ATP consumed is what the clients
  were told, give or take the 503 answers (a COMMIT whose answer was lost may have landed);
- no ATP below zero, active reservations == ATP consumed, the ledger verifies (0 mismatches).
"""

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
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
from tests.stress.support import Server, add_facility_and_products, env_int, fresh_database

pytestmark = [pytest.mark.stress, pytest.mark.postgres]

FACILITY = "KILLED"
PRODUCTS = ["KILL1", "KILL2", "KILL3"]
CLIENTS = 8
REQUESTS = env_int("STOCKLEDGER_STRESS_KILL_REQUESTS", 320)
KILL_EVERY = 0.5


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    told_reserved: Counter[str] = field(default_factory=Counter)
    told_released: Counter[str] = field(default_factory=Counter)
    maybe_reserved: Counter[str] = field(default_factory=Counter)  # a 503 on a reservation
    maybe_released: Counter[str] = field(default_factory=Counter)  # a 503 on a cancellation
    kept: list[tuple[str, str, int]] = field(default_factory=list)  # (orderId, seq, quantity) to check
    unexpected: list[str] = field(default_factory=list)


class Client:
    def __init__(self, number: int, server: Server, token: str) -> None:
        self.number, self.random, self.tally = number, random.Random(number), Tally()
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.open: list[tuple[str, str, str, int]] = []  # (orderId, seq, productId, quantity)

    def run(self) -> None:
        try:
            for n in range(REQUESTS // CLIENTS):
                self._one(n, self.random.random())
        except Exception as exc:  # a transport error is a finding
            self.tally.unexpected.append(f"client {self.number}: {exc!r}")
        finally:
            self.conn.close()
        self.tally.kept.extend((o, s, q) for o, s, _, q in self.open)

    def _one(self, n: int, roll: float) -> None:
        if roll < 0.2 and self.open:
            self._cancel()
        elif roll < 0.4:
            product = self.random.choice(PRODUCTS)
            self._send("GET", f"/v1/availability?facilityId={FACILITY}&productId={product}", None, {200})
        elif roll < 0.55:
            self._reserve_order(n)
        else:
            self._reserve_one(n, keyed=roll < 0.7)

    def _send(
        self, method: str, path: str, body: Any, ok: set[int], **headers: str
    ) -> tuple[int, dict[str, Any]]:
        self.conn.request(
            method, path, json.dumps(body) if body is not None else None, self.headers | headers
        )
        response = self.conn.getresponse()
        status, content_type = response.status, response.getheader("content-type", "")
        retry_after, raw = response.getheader("retry-after"), response.read()
        answer = json.loads(raw) if raw else {}
        label = f"{method} {path.split('?')[0].split('/')[2]} {status}"
        self.tally.statuses[label] += 1
        expected_problem = {409: ("insufficient_stock", None), 503: ("database_unavailable", "2")}.get(status)
        if expected_problem is not None:
            if (
                answer.get("code"),
                retry_after,
            ) != expected_problem or content_type != "application/problem+json":
                self.tally.unexpected.append(f"{label}: {retry_after} {raw[:200]!r}")
        elif status not in ok:
            self.tally.unexpected.append(f"{label}: {raw[:300]!r}")
        return status, answer

    def _reserve_one(self, n: int, keyed: bool) -> None:
        order_id, product, quantity = (
            f"S{self.number}-{n}",
            self.random.choice(PRODUCTS),
            self.random.randint(1, 3),
        )
        body: dict[str, Any] = {"orderId": order_id, "orderItemSeqId": "00001", "productId": product}
        body |= {"facilityId": FACILITY, "quantity": quantity}
        headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
        status, _ = self._send("POST", "/v1/reservations", body, {201}, **headers)
        self._count(status == 201, status, [(order_id, "00001", product, quantity)])

    def _reserve_order(self, n: int) -> None:
        order_id = f"M{self.number}-{n}"
        lines = [
            (f"{k:05d}", p, self.random.randint(1, 2))
            for k, p in enumerate(self.random.sample(PRODUCTS, 2), 1)
        ]
        items = [{"orderItemSeqId": s, "productId": p, "quantity": q} for s, p, q in lines]
        status, _ = self._send(
            "POST", f"/v1/orders/{order_id}/reserve", {"facilityId": FACILITY, "items": items}, {200}
        )
        self._count(status == 200, status, [(order_id, s, p, q) for s, p, q in lines])

    def _count(self, reserved: bool, status: int, lines: list[tuple[str, str, str, int]]) -> None:
        """`reserved`: the route's own success status came back (201 for a line, 200 for an order)."""
        for line in lines:
            if reserved:
                self.tally.told_reserved[line[2]] += line[3]
                self.open.append(line)
            elif status == 503:
                self.tally.maybe_reserved[line[2]] += line[3]

    def _cancel(self) -> None:
        order_id, seq, product, quantity = self.open.pop(self.random.randrange(len(self.open)))
        status, answer = self._send(
            "DELETE", f"/v1/reservations/{order_id}/{seq}?facilityId={FACILITY}", None, {200}
        )
        if status == 200:
            self.tally.told_released[product] += int(Decimal(str(answer["quantityReleased"])))
        elif status == 503:
            self.tally.maybe_released[product] += quantity


def _kill_backends(db_url: str, stop: threading.Event, kills: list[int]) -> None:
    query = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        while not stop.wait(KILL_EVERY):
            row = admin.execute(query).fetchone()
            kills.append(row[0] if row else 0)


def _state(db: Database) -> tuple[dict[str, Decimal], dict[tuple[str, str], Decimal], dict[str, Decimal]]:
    """ATP per product, active reservation quantity per order item, and active quantity per product."""
    with db.reading() as session:
        i, r = InventoryItem, OrderItemInventoryReservation
        atp = select(i.product_id, func.sum(i.available_to_promise_total)).where(i.facility_id == FACILITY)
        active = select(r.order_id, r.order_item_seq_id, r.product_id, r.quantity).where(
            r.facility_id == FACILITY, r.status_id == "RES_ACTIVE"
        )
        by_product = dict(session.execute(atp.group_by(i.product_id)).tuples().all())
        rows = session.execute(active).tuples().all()
    per_item: dict[tuple[str, str], Decimal] = {}
    per_product: dict[str, Decimal] = dict.fromkeys(PRODUCTS, Decimal(0))
    for order_id, seq, product, quantity in rows:
        per_item[(order_id, seq)] = per_item.get((order_id, seq), Decimal(0)) + quantity
        per_product[product] += quantity
    return by_product, per_item, per_product


def test_connections_killed_under_load_give_no_500_and_lose_nothing(
    tmp_path: Path, record_property: Any
) -> None:
    stock = max(30, REQUESTS // 4)  # about half the demand: some refusals too
    with fresh_database() as db_url:
        db = Database(db_url)
        try:
            add_facility_and_products(db, FACILITY, PRODUCTS)
            with db.transaction() as session:
                reset_inventory(
                    session, (RawLine(n, FACILITY, p, str(stock)) for n, p in enumerate(PRODUCTS, 2)), "kills"
                )
            with db.transaction() as session:
                token = create_token(session, "oms", facilities=[FACILITY], description="kills").token
            server = Server(db_url, workers=2, log=tmp_path / "serve.log")
            try:
                tally, kills, seconds = _run(db_url, server, token)
            finally:
                server.stop()
            atp, per_item, per_product = _state(db)
            with db.reading() as session:
                assert find_mismatches(session) == []
        finally:
            db.dispose()
    summary: dict[str, Any] = {"requests": REQUESTS, "kills": sum(kills), "seconds": round(seconds, 1)}
    summary["statuses"] = dict(sorted(tally.statuses.items()))
    print("STRESS " + json.dumps(summary))
    record_property("stress_kills", summary)
    assert tally.unexpected == [], tally.unexpected[:20]
    assert sum(kills) > 0
    assert any(label.endswith(" 503") for label in tally.statuses), "no request met a killed connection"
    for order_id, seq, quantity in tally.kept:  # nothing acknowledged is lost
        assert per_item.get((order_id, seq)) == quantity, (order_id, seq)
    for product in PRODUCTS:
        consumed = Decimal(stock) - atp[product]
        assert atp[product] >= 0, product
        assert per_product[product] == consumed, product
        told = tally.told_reserved[product] - tally.told_released[product]
        low, high = told - tally.maybe_released[product], told + tally.maybe_reserved[product]
        assert low <= consumed <= high, (product, low, consumed, high)


def _run(db_url: str, server: Server, token: str) -> tuple[Tally, list[int], float]:
    clients = [Client(n, server, token) for n in range(CLIENTS)]
    stop, kills = threading.Event(), list[int]()
    killer = threading.Thread(target=_kill_backends, args=(db_url, stop, kills), daemon=True)
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    began = time.perf_counter()
    killer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    killer.join(10)
    total = Tally()
    for c in clients:
        for name in ("statuses", "told_reserved", "told_released", "maybe_reserved", "maybe_released"):
            getattr(total, name).update(getattr(c.tally, name))
        total.kept.extend(c.tally.kept)
        total.unexpected.extend(c.tally.unexpected)
    return total, kills, time.perf_counter() - began
