"""What the Citus cluster tests under HTTP load share (test_citus_growth, test_citus_worker_down):
a fresh database with facilities placed on chosen workers, a real `stockledger serve`, and a
bounded reservation load whose every answer is tallied per facility.

The load: CLIENTS threads, each with a keep-alive httpx client, reserve 1-3 units of a random
product of a facility (ALL_OR_NOTHING, a new order item each time) until told to stop or until
their request budget is spent. Whatever the server answers is recorded; a transport error is a
finding, never a hang.
"""

import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import text

from stockledger.core.db import Database
from stockledger.core.fixed import from_micros
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "citus.sh"
PRODUCTS = [f"CP{n}" for n in range(1, 5)]
STOCK = 400  # units per product and facility: enough that most reservations succeed, and some not
PROBLEM_JSON = "application/problem+json"
_WORKER_OF = text(
    "SELECT nodeport FROM citus_shards WHERE table_name = 'inventory_item'::regclass "
    "AND shardid = get_shard_id_for_distribution_column('inventory_item', CAST(:f AS text))"
)


def citus_script(*args: str) -> str:
    """`scripts/citus.sh ARGS…`, which must succeed; its stdout."""
    done = subprocess.run(
        [str(SCRIPT), *args], env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def worker_of(db: Database, facility: str) -> int:
    """The port of the worker holding `facility`'s shard of inventory_item (and so all its rows)."""
    with db.engine.connect() as conn:
        return int(conn.execute(_WORKER_OF, {"f": facility}).scalar_one())


def facilities_by_worker(db: Database, per_worker: int) -> dict[int, list[str]]:
    """`per_worker` facility ids for each worker, by where their shard lives."""
    chosen: dict[int, list[str]] = {}
    for n in range(200):
        facility = f"CF{n:03d}"
        found = chosen.setdefault(worker_of(db, facility), [])
        if len(found) < per_worker:
            found.append(facility)
    assert all(len(found) == per_worker for found in chosen.values()), chosen
    return chosen


def stock_facilities(db: Database, facilities: list[str], stock: int = STOCK) -> None:
    """The facilities, PRODUCTS, and `stock` units of each product in each (one reset)."""
    with db.transaction() as session:
        session.execute(
            text("INSERT INTO product (product_id, created_stamp) VALUES (:p, '2026-01-01')"),
            [{"p": p} for p in PRODUCTS],
        )
        session.execute(
            text(
                "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                "VALUES (:f, 'FIFO', '2026-01-01')"
            ),
            [{"f": f} for f in facilities],
        )
    with db.transaction() as session:
        lines = [
            RawLine(n, f, p, str(stock))
            for n, (f, p) in enumerate(((f, p) for f in facilities for p in PRODUCTS), 2)
        ]
        reset_inventory(session, lines, "citus load set-up")


def add_database_on_node(name: str, port: int) -> None:
    """The test database `name` with the citus extension on the node at `port` (not joined yet)."""
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("CREATE EXTENSION citus")


def drop_database_on_node(name: str, port: int) -> None:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Tally:
    """What the clients were told, per phase of the test and facility."""

    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (phase, facility, status)
    reserved: Counter[str] = field(default_factory=Counter)  # units per facility, from 201s
    unexpected: list[str] = field(default_factory=list)  # anything but 201, 409 insufficient_stock, 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self, status: int | None = None, facility: str | None = None, phase: str | None = None) -> int:
        return sum(
            n
            for (p, f, s), n in self.statuses.items()
            if (status is None or s == status)
            and (facility is None or f == facility)
            and (phase is None or p == phase)
        )


def check_answer(tally: Tally, phase: str, facility: str, quantity: int, response: httpx.Response) -> None:
    """Count one reservation's answer: 201 reserved it all; 409 insufficient_stock and 503
    database_unavailable with Retry-After (problem+json) changed nothing; anything else is noted."""
    status = response.status_code
    problem = response.headers.get("content-type", "").startswith(PROBLEM_JSON)
    code = response.json().get("code") if problem else None
    with tally.lock:
        tally.statuses[(phase, facility, status)] += 1
        if status == 201 and Decimal(str(response.json()["quantityReserved"])) == quantity:
            tally.reserved[facility] += quantity
        elif not _refused(status, code, response) and len(tally.unexpected) < 20:
            tally.unexpected.append(f"{facility} {status}: {response.text[:300]}")


def _refused(status: int, code: Any, response: httpx.Response) -> bool:
    """409 insufficient_stock, or 503 database_unavailable with Retry-After: nothing changed."""
    if status == 503:
        return code == "database_unavailable" and int(response.headers.get("retry-after", "0")) > 0
    return (status, code) == (409, "insufficient_stock")


def reserve(
    http: httpx.Client, tally: Tally, phase: str, facility: str, order_id: str, quantity: int
) -> httpx.Response:
    """One reservation of `quantity` units of a random product in `facility`, tallied under `phase`."""
    body = {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": random.choice(PRODUCTS),
        "facilityId": facility,
        "quantity": quantity,
    }
    response = http.post("/v1/reservations", json=body)
    check_answer(tally, phase, facility, quantity, response)
    return response


def wait_for(condition: Callable[[], bool], what: str, tries: int = 1200) -> None:
    """Poll `condition` every 0.1 s; fail (naming `what`) if it never holds (a hang, not a timing)."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def read_availability(http: httpx.Client, tally: Tally, phase: str, facility: str) -> httpx.Response:
    """GET /v1/availability of a random product in `facility`, tallied under `phase` as
    "<facility> read": 200, or 503 database_unavailable with Retry-After."""
    response = http.get(
        "/v1/availability", params={"facilityId": facility, "productId": random.choice(PRODUCTS)}
    )
    status = response.status_code
    problem = response.headers.get("content-type", "").startswith(PROBLEM_JSON)
    code = response.json().get("code") if problem else None
    with tally.lock:
        tally.statuses[(phase, f"{facility} read", status)] += 1
        if (
            status != 200
            and not (status == 503 and _refused(status, code, response))
            and len(tally.unexpected) < 20
        ):
            tally.unexpected.append(f"{facility} read {status}: {response.text[:300]}")
    return response


class Load:
    """CLIENTS threads reserving over HTTP in `facilities` until `stop` is set or each has sent
    `budget` requests; `sent` counts every answered request. Each answer is tallied under the
    `phase` current when it was sent (the test moves it on). With `reads`, every other request
    is an availability read instead. `kept_for` (phase, n): each client keeps the last n requests
    of its budget for that phase, waiting for it (a step of unknown length, a rebalance, does
    not use the whole budget up)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        facilities: list[str],
        clients: int,
        budget: int,
        reads: bool = False,
        kept_for: tuple[str, int] | None = None,
    ) -> None:
        self.base_url, self.token, self.facilities, self.budget = base_url, token, facilities, budget
        self.reads = reads  # every other request an availability read
        self.kept_for = kept_for
        self.tally = Tally()
        self.stop = threading.Event()
        self.sent = 0
        self.phase = "before"
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in self.threads), "a client hung"

    def _client(self, number: int) -> None:
        rng = random.Random(number)
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(base_url=self.base_url, headers=headers, timeout=120) as http:
                for n in range(self.budget):
                    if self.kept_for is not None and n >= self.budget - self.kept_for[1]:
                        while self.phase != self.kept_for[0] and not self.stop.is_set():
                            time.sleep(0.05)
                    if self.stop.is_set():
                        return
                    facility = rng.choice(self.facilities)
                    phase = self.phase
                    if self.reads and n % 2:
                        read_availability(http, self.tally, phase, facility)
                    else:
                        reserve(
                            http, self.tally, phase, facility, f"L{number:02d}-{n:06d}", rng.randint(1, 3)
                        )
                    with self.tally.lock:
                        self.sent += 1
        except Exception as exc:  # a transport error is a finding: record it, never hang the test
            with self.tally.lock:
                self.tally.unexpected.append(f"client {number}: {exc!r}")


def facility_state(db: Database, facility: str) -> tuple[Decimal, Decimal, Decimal, int]:
    """(QOH, ATP, Σ active reservations, items below zero ATP) of `facility`, in units."""
    with db.reading() as session:
        qoh, atp, negative = session.execute(
            text(
                "SELECT sum(quantity_on_hand_total), sum(available_to_promise_total), "
                "count(*) FILTER (WHERE available_to_promise_total < 0) FROM inventory_item "
                "WHERE facility_id = :f"
            ),
            {"f": facility},
        ).one()
        reserved = session.execute(
            text(
                "SELECT coalesce(sum(quantity), 0) FROM order_item_inventory_reservation "
                "WHERE facility_id = :f AND status_id = 'RES_ACTIVE'"
            ),
            {"f": facility},
        ).scalar_one()
    return from_micros(int(qoh)), from_micros(int(atp)), from_micros(int(reserved)), int(negative)
