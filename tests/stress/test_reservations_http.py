"""Hot items under concurrent reservations over real HTTP (PostgreSQL): nothing oversold, ever.

`stockledger serve --workers 2` runs as a subprocess on a fresh database; CLIENTS threads,
each with a keep-alive httpx client, make STOCKLEDGER_STRESS_ATTEMPTS reservation attempts
(CI: 2,000; `make stress`: 100,000) on 5 products whose ATP covers a fraction of the demand:
single order items (ALL_OR_NOTHING, and PARTIAL), orders of 2–3 lines (POST
/v1/orders/{id}/reserve), and cancellations of the client's own earlier successes mixed in.
Every answer the clients saw is recorded; then, from the database:

- no item's ATP is negative, nor ever was (its ledger rows replayed in sequence order), and
  QOH is unchanged (reservations never move QOH);
- per product, initial ATP − final ATP == Σ active reservation rows == units the clients were
  told were reserved − units they were told were released;
- `stockledger verify` and find_mismatches: 0 mismatches;
- no 5xx, no transport error, every refusal a 409 application/problem+json `insufficient_stock`.
"""

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from stockledger.core.db import Database
from stockledger.core.fixed import from_micros
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.ledger.verify import find_mismatches
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.stress.support import (
    Server,
    add_facility_and_products,
    create_token,
    env_int,
    fresh_database,
    verify_clean,
)

pytestmark = [pytest.mark.stress, pytest.mark.postgres]

FACILITY = "HOT"
PRODUCTS = [f"HOT{n}" for n in range(1, 6)]
CLIENTS = env_int("STOCKLEDGER_STRESS_CLIENTS", 16)
ATTEMPTS = env_int("STOCKLEDGER_STRESS_ATTEMPTS", 2_000)
PROBLEM_JSON = "application/problem+json"


@dataclass
class Tally:
    """What one client (or all of them, merged) was told by the server."""

    attempts: int = 0
    successes: int = 0  # requests that reserved something
    refusals: int = 0  # 409 insufficient_stock, or PARTIAL with nothing there
    cancels: int = 0
    order_requests: int = 0
    reserved: Counter[str] = field(default_factory=Counter)  # units per product, from responses
    released: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # "POST /v1/reservations 201"
    unexpected: list[str] = field(default_factory=list)  # first few of anything else

    def merge(self, other: "Tally") -> None:
        self.attempts += other.attempts
        self.successes += other.successes
        self.refusals += other.refusals
        self.cancels += other.cancels
        self.order_requests += other.order_requests
        self.reserved.update(other.reserved)
        self.released.update(other.released)
        self.statuses.update(other.statuses)
        self.unexpected.extend(other.unexpected[: 20 - len(self.unexpected)])


def _units(value: Any) -> Decimal:
    return Decimal(str(value))


class Client:
    """One concurrent caller: its own connection, random generator, and open reservations."""

    def __init__(self, number: int, base_url: str, token: str, attempts: int) -> None:
        self.number = number
        self.attempts = attempts
        self.random = random.Random(number)
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        self.tally = Tally()
        self.open: list[tuple[str, str, str]] = []  # (orderId, orderItemSeqId, productId) reserved
        self.serial = 0

    def run(self, start: threading.Barrier) -> None:
        try:
            start.wait()
            while self.tally.attempts < self.attempts:
                roll = self.random.random()
                if roll < 0.22 and self.open:
                    self.cancel()
                elif roll < 0.32:
                    self.reserve_order()
                else:
                    self.reserve_one(fill="PARTIAL" if roll < 0.42 else "ALL_OR_NOTHING")
        except Exception as exc:  # a transport error is a finding: record it, never hang the test
            self.tally.unexpected.append(f"client {self.number}: {exc!r}")
        finally:
            self.http.close()

    def _order_id(self, kind: str) -> str:
        self.serial += 1
        return f"{kind}{self.number:03d}-{self.serial:07d}"

    def _check(self, label: str, response: httpx.Response, expected: set[int]) -> bool:
        """Count the status; record anything unexpected. True for a 2xx the caller should read."""
        self.tally.statuses[f"{label} {response.status_code}"] += 1
        if response.status_code == 409:
            is_problem = response.headers.get("content-type", "").startswith(PROBLEM_JSON)
            code = response.json().get("code") if is_problem else None
            if code != "insufficient_stock":
                self.tally.unexpected.append(
                    f"{label} 409 not a problem+json insufficient_stock: {response.text}"
                )
            return False
        if response.status_code not in expected:
            self.tally.unexpected.append(f"{label} {response.status_code}: {response.text[:300]}")
            return False
        return True

    def reserve_one(self, fill: str) -> None:
        order_id, product = self._order_id("S"), self.random.choice(PRODUCTS)
        quantity = self.random.randint(1, 3)
        body = {
            "orderId": order_id,
            "orderItemSeqId": "00001",
            "productId": product,
            "facilityId": FACILITY,
            "quantity": quantity,
            "fill": fill,
        }
        self.tally.attempts += 1
        response = self.http.post("/v1/reservations", json=body)
        created = {201} if fill == "ALL_OR_NOTHING" else {200, 201}  # PARTIAL: 200 iff nothing reserved
        if not self._check(f"POST /v1/reservations {fill}", response, created):
            self.tally.refusals += 1
            return
        reserved = _units(response.json()["quantityReserved"])
        if fill == "ALL_OR_NOTHING" and reserved != quantity:
            self.tally.unexpected.append(f"ALL_OR_NOTHING reserved {reserved} of {quantity}: {response.text}")
        if (response.status_code == 200) != (reserved == 0):
            self.tally.unexpected.append(f"{fill} {response.status_code} with {reserved} reserved")
        if reserved == 0:
            self.tally.refusals += 1  # PARTIAL with nothing there: 200, nothing created
            return
        self.tally.successes += 1
        self.tally.reserved[product] += int(reserved)
        self.open.append((order_id, "00001", product))

    def reserve_order(self) -> None:
        order_id = self._order_id("M")
        products = self.random.sample(PRODUCTS, self.random.randint(2, 3))
        lines = [
            {"orderItemSeqId": f"{n:05d}", "productId": p, "quantity": self.random.randint(1, 2)}
            for n, p in enumerate(products, 1)
        ]
        self.tally.attempts += 1
        self.tally.order_requests += 1
        response = self.http.post(
            f"/v1/orders/{order_id}/reserve", json={"facilityId": FACILITY, "items": lines}
        )
        if not self._check("POST /v1/orders/{id}/reserve", response, {200}):
            self.tally.refusals += 1
            return
        answer = response.json()
        for item in answer["items"]:
            reserved = _units(item["quantityReserved"])
            wanted = next(line for line in lines if line["orderItemSeqId"] == item["orderItemSeqId"])
            if reserved != wanted["quantity"]:
                self.tally.unexpected.append(
                    f"order line reserved {reserved} of {wanted}: {response.text[:300]}"
                )
            self.tally.reserved[item["productId"]] += int(reserved)
            self.open.append((order_id, item["orderItemSeqId"], item["productId"]))
        self.tally.successes += 1

    def cancel(self) -> None:
        k = self.random.randrange(len(self.open))
        self.open[k], self.open[-1] = self.open[-1], self.open[k]
        order_id, seq, product = self.open.pop()
        response = self.http.delete(f"/v1/reservations/{order_id}/{seq}", params={"facilityId": FACILITY})
        self.tally.cancels += 1
        if self._check("DELETE /v1/reservations", response, {200}):
            self.tally.released[product] += int(_units(response.json()["quantityReleased"]))


def _item_state(db: Database) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per product of FACILITY: (QOH, ATP, Σ active reservation quantity)."""
    with db.reading() as session:
        i, r = InventoryItem, OrderItemInventoryReservation
        totals = session.execute(
            select(i.product_id, func.sum(i.quantity_on_hand_total), func.sum(i.available_to_promise_total))
            .where(i.facility_id == FACILITY)
            .group_by(i.product_id)
        ).all()
        active = dict(
            session.execute(
                select(r.product_id, func.sum(r.quantity))
                .where(r.facility_id == FACILITY, r.status_id == "RES_ACTIVE")
                .group_by(r.product_id)
            )
            .tuples()
            .all()
        )
        negative = session.scalar(
            select(func.count()).where(i.facility_id == FACILITY, i.available_to_promise_total < 0)
        )
        assert negative == 0, "an item's ATP went below zero: oversold"
        return {p: (qoh, atp, active.get(p, Decimal(0))) for p, qoh, atp in totals}


def _lowest_running_atp(db: Database) -> Decimal:
    """The lowest ATP any item of FACILITY ever had, replaying its ledger rows in sequence order."""
    query = text(
        "SELECT min(running) FROM (SELECT sum(available_to_promise_diff) OVER "
        "(PARTITION BY inventory_item_id ORDER BY seq_num) AS running "
        "FROM inventory_item_detail WHERE facility_id = :f) AS history"
    )
    with db.reading() as session:
        return from_micros(int(session.execute(query, {"f": FACILITY}).scalar_one()))  # stored in millionths


def test_hot_items_under_concurrent_reservations_and_cancels_are_never_oversold(
    tmp_path: Any, record_property: Any
) -> None:
    # ATP for about a fifth of the demand (≈ 2 units an attempt), so most attempts meet a refusal
    stock = {p: max(20, ATTEMPTS // 25) + 7 * n for n, p in enumerate(PRODUCTS)}
    with fresh_database() as db_url:
        db = Database(db_url)
        try:
            add_facility_and_products(db, FACILITY, PRODUCTS)
            with db.transaction() as session:
                lines = (RawLine(n, FACILITY, p, str(q)) for n, (p, q) in enumerate(stock.items(), 2))
                reset_inventory(session, lines, "stress set-up")
            before = _item_state(db)
            assert {p: (qoh, atp) for p, (qoh, atp, _) in before.items()} == {
                p: (Decimal(q), Decimal(q)) for p, q in stock.items()
            }
            token = create_token(db_url, "oms", FACILITY)
            server = Server(db_url, workers=2, log=tmp_path / "serve.log")
            try:
                total, seconds = _run_clients(server.base_url, token)
            finally:
                server.stop()
            after = _item_state(db)
            lowest = _lowest_running_atp(db)
            with db.reading() as session:
                assert find_mismatches(session) == []
            verify_clean(db_url)
        finally:
            db.dispose()
    summary = {
        "attempts": total.attempts,
        "successes": total.successes,
        "refusals": total.refusals,
        "cancels": total.cancels,
        "order_requests": total.order_requests,
        "units_reserved": sum(total.reserved.values()),
        "units_released": sum(total.released.values()),
        "seconds": round(seconds, 1),
        "requests_per_second": round((total.attempts + total.cancels) / seconds, 1),
        "statuses": dict(sorted(total.statuses.items())),
        "final_atp": {p: str(atp) for p, (_, atp, _) in sorted(after.items())},
    }
    print("STRESS " + json.dumps(summary))
    record_property("stress", summary)
    assert total.unexpected == [], total.unexpected
    assert [s for s in total.statuses if s.rsplit(" ", 1)[1].startswith("5")] == [], "5xx answers"
    assert total.attempts == CLIENTS * (ATTEMPTS // CLIENTS)
    assert total.successes > 0
    assert total.refusals > 0
    assert total.cancels > 0
    assert lowest >= 0, "at some point an item's ATP was negative: oversold"
    for product in PRODUCTS:
        qoh0, atp0, _ = before[product]
        qoh1, atp1, active = after[product]
        consumed = atp0 - atp1
        assert qoh1 == qoh0, product
        assert atp1 >= 0, product
        assert active == consumed, (product, active, consumed)
        assert total.reserved[product] - total.released[product] == consumed, product


def _run_clients(base_url: str, token: str) -> tuple[Tally, float]:
    start = threading.Barrier(CLIENTS + 1)
    clients = [Client(n, base_url, token, ATTEMPTS // CLIENTS) for n in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, args=(start,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    total = Tally()
    for c in clients:
        total.merge(c.tally)
    return total, seconds
