"""Random sequences of stock movements over HTTP keep the ledger rule and never oversell.

After every step: the one status the state before it calls for (a refusal a problem with a known
code), and no INV_AVAILABLE item's ATP taken below zero (nor lower, when it already was) except on
the items the step may legitimately take there: the backordered items of a BACKORDER reservation,
the item of a loss beyond its ATP, the item of a count below what is reserved on it.
After every sequence: totals == sum of details for every item.

Besides the seed documents' products (two INV_AVAILABLE items each, so the general path), the
world holds SOLE-1, whose only item in the facility has 60 units, and RUNOUT-1, whose only item
has 4 (reservations soon run it out): a reservation of either without an Idempotency-Key takes
the one-statement path (PostgreSQL) and is checked like every other step.

Each run draws a new seed and prints it; `STOCKLEDGER_PROPERTY_SEED=<seed>` replays a run.
"""

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from stockledger.app import create_app
from stockledger.auth.service import create_token
from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.ledger.verify import find_mismatches
from tests.stock_support import add_sole_item

FAC = "FACILITY_1"
SEED = int(os.environ.get("STOCKLEDGER_PROPERTY_SEED") or int.from_bytes(os.urandom(8)))
SOLE_ITEMS = {"SOLE-1": 60, "RUNOUT-1": 4}  # products with one item: the one-statement reservation
PRODUCTS = ["FG001", "FG002", "FG003", *SOLE_ITEMS]
ITEMS = [
    "FG001-INV-001",
    "FG001-INV-002",
    "FG002-INV-001",
    "FG002-INV-002",
    "FG003-INV-001",
    "FG003-INV-002",
    *SOLE_ITEMS,  # a sole item, by its product (Run.item)
]
KEPT_TABLES = {"alembic_version", "inventory_item_type", "variance_reason"}
PROBLEM_CODES = {
    "insufficient_stock",
    "conflict",
    "not_found",
    "validation_failed",
    "negative_stock",
    "return_exceeds_shipped",
}

amounts = st.integers(1, 40)
product = st.sampled_from(PRODUCTS)
pick = st.integers(0, 1000)  # which earlier reservation / sale an operation refers to
operations = st.one_of(
    st.tuples(st.just("receive"), product, amounts, st.integers(0, 3)),
    st.tuples(st.just("reserve"), product, amounts, st.sampled_from(["ALL_OR_NOTHING", "BACKORDER"])),
    st.tuples(st.just("cancel"), pick),
    st.tuples(st.just("variance"), st.sampled_from(ITEMS), st.integers(-15, 15).filter(bool), st.booleans()),
    st.tuples(st.just("count"), st.sampled_from(ITEMS), st.integers(0, 60)),
    st.tuples(st.just("ship"), pick, st.booleans()),
    st.tuples(st.just("pos_sale"), product, amounts),
    st.tuples(st.just("return"), pick, st.integers(1, 5)),
    st.tuples(st.just("reject"), pick, st.sampled_from(["RELEASE", "ATP_QOH_ALL", "ATP_ONE"])),
)


Taken = frozenset[str]  # the items a step may take below zero
GUARDED: Taken = frozenset()


@dataclass
class Run:
    """What a sequence has done so far."""

    client: TestClient
    db: Database
    ids: Iterator[int] = field(default_factory=itertools.count)
    reserved: list[tuple[str, str, int]] = field(default_factory=list)  # (orderId, productId, qty)
    sold: list[tuple[str, str, int]] = field(default_factory=list)  # POS (orderId, productId, qty)
    returned: dict[str, int] = field(default_factory=dict)  # POS orderId: units returned so far
    sole: dict[str, str] = field(default_factory=dict)  # product with one item: that item's id

    def item(self, named: str) -> str:
        """An item drawn by name: a seed item's id, or a sole item's product."""
        return self.sole.get(named, named)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids)}"

    def call(self, method: str, path: str, body: Any, expected: int) -> Response:
        """Send a request; its answer must be `expected`, a refusal a problem with a known code."""
        response: Response = self.client.request(method, path, json=body)
        assert response.status_code == expected, f"{method} {path}: {response.text}"
        if expected >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] in PROBLEM_CODES, response.text
        return response

    def atp(self, item_id: str) -> Decimal:
        with self.db.reading() as session:
            item = session.get(InventoryItem, (FAC, item_id))
            assert item is not None
            return item.available_to_promise_total

    def atps(self) -> dict[str, Decimal]:
        """ATP of every INV_AVAILABLE item of the facility (receipts add items)."""
        with self.db.reading() as session:
            i = InventoryItem
            rows = session.execute(
                select(i.inventory_item_id, i.available_to_promise_total).where(
                    i.facility_id == FAC, i.status_id == "INV_AVAILABLE"
                )
            )
            return dict(rows.tuples().all())

    def promisable(self, product_id: str) -> Decimal:
        """What availability reports may be promised: the net ATP of the product's promisable items."""
        answer = self.call("GET", f"/v1/availability?facilityId={FAC}&productId={product_id}", None, 200)
        return Decimal(str(answer.json()["availableToPromiseTotal"]))

    def holds(self, order_id: str) -> bool:
        """The order's item 1 has an active reservation."""
        with self.db.reading() as session:
            r = OrderItemInventoryReservation
            found = session.scalar(
                select(func.count()).where(
                    r.facility_id == FAC, r.order_id == order_id, r.status_id == "RES_ACTIVE"
                )
            )
            return bool(found)

    def shippable(self, order_id: str, quantity: int) -> bool:
        """A ship of `quantity` of the order's item 1 issues from its active reservations, oldest
        first, their on-hand part only (no allowUnreserved), each item at most its QOH: else 409."""
        r, i = OrderItemInventoryReservation, InventoryItem
        with self.db.reading() as session:
            rows = session.execute(
                select(r.quantity, r.quantity_not_available, i.quantity_on_hand_total)
                .join(i, (i.facility_id == r.facility_id) & (i.inventory_item_id == r.inventory_item_id))
                .where(r.facility_id == FAC, r.order_id == order_id, r.order_item_seq_id == "1")
                .where(r.status_id == "RES_ACTIVE")
                .order_by(r.reserved_datetime, r.inventory_item_id)
            ).all()
        left = Decimal(quantity)
        for promised, backordered, on_hand in rows:
            take = min(promised - backordered, left)
            if take > 0 and take > on_hand:
                return False
            left -= max(take, Decimal(0))
        return left == 0

    def qoh(self, item_id: str) -> Decimal:
        with self.db.reading() as session:
            item = session.get(InventoryItem, (FAC, item_id))
            assert item is not None
            return item.quantity_on_hand_total

    def reserved_on(self, item_id: str) -> Decimal:
        with self.db.reading() as session:
            r = OrderItemInventoryReservation
            total = session.scalar(
                select(func.coalesce(func.sum(r.quantity), 0)).where(
                    r.facility_id == FAC, r.inventory_item_id == item_id, r.status_id == "RES_ACTIVE"
                )
            )
            return Decimal(total or 0)


def _receive(run: Run, product_id: str, qty: int, rejected: int) -> Taken:
    line = {"shipmentItemSeqId": "1", "productId": product_id, "quantityAccepted": qty}
    body = {
        "shipmentId": run.next_id("PO"),
        "facilityId": FAC,
        "items": [
            line | ({"quantityRejected": rejected, "rejectionReasonId": "SRJ_DAMAGED"} if rejected else {})
        ],
    }
    run.call("POST", "/v1/receipts", body, 201)
    return GUARDED  # it may fill backorders, with what it received


def _reserve(run: Run, product_id: str, qty: int, fill: str) -> Taken:
    order = run.next_id("O")
    short = qty > run.promisable(product_id)  # ALL_OR_NOTHING: 409; BACKORDER: promised anyway
    body = {"orderId": order, "orderItemSeqId": "1", "productId": product_id, "facilityId": FAC}
    expected = 409 if short and fill == "ALL_OR_NOTHING" else 201
    response = run.call("POST", "/v1/reservations", body | {"quantity": qty, "fill": fill}, expected)
    if response.status_code != 201:
        return GUARDED
    run.reserved.append((order, product_id, qty))
    # BACKORDER: ATP below zero on the items that hold the units not available, and only there
    rows = response.json()["reservations"]
    return frozenset(r["inventoryItemId"] for r in rows if r["quantityNotAvailable"] > 0)


def _cancel(run: Run, which: int) -> Taken:
    if not run.reserved:
        run.call("DELETE", "/v1/reservations/NO-ORDER/1", None, 404)
        return GUARDED
    order, _, _ = run.reserved.pop(which % len(run.reserved))
    expected = 200 if run.holds(order) else 404  # shipped in full already: nothing to cancel
    run.call("DELETE", f"/v1/reservations/{order}/1", None, expected)
    return GUARDED


def _variance(run: Run, named: str, qty: int, allow_negative: bool) -> Taken:
    item_id = run.item(named)
    refused = qty < 0 and -qty > run.qoh(item_id) and not allow_negative  # QOH below zero: 409
    body = {
        "inventoryItemId": item_id,
        "quantity": qty,
        "varianceReasonId": "VAR_FOUND" if qty > 0 else "VAR_LOST",
        "allowNegative": allow_negative,
    }
    run.call("POST", "/v1/variances", body, 409 if refused else 200)
    return frozenset({item_id}) if qty < 0 and not refused else GUARDED  # a loss beyond its ATP


def _count(run: Run, named: str, counted: int) -> Taken:
    item_id = run.item(named)
    # By item: ATP becomes counted − reserved on it (SPEC §11), below zero when counted is less.
    # (A count by product puts the whole difference on the facility item.)
    line = {"inventoryItemId": item_id, "quantityCounted": counted}
    body = {"physicalInventoryId": run.next_id("PI"), "facilityId": FAC, "counts": [line]}
    run.call("POST", "/v1/physical-inventories", body, 200)
    assert run.atp(item_id) == counted - run.reserved_on(item_id)
    return frozenset({item_id})


def _ship(run: Run, which: int, whole: bool) -> Taken:
    if not run.reserved:
        return GUARDED
    order, product_id, qty = run.reserved[which % len(run.reserved)]
    shipment_id = run.next_id("SH")
    line = {"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": product_id}
    body = {"shipmentId": shipment_id, "primaryOrderId": order, "originFacilityId": FAC}
    shipped = qty if whole else 1
    run.call("POST", "/v1/shipments", body | {"items": [line | {"quantity": shipped}]}, 201)
    expected = 200 if run.shippable(order, shipped) else 409  # shipped already, backordered, or lost
    run.call("POST", f"/v1/shipments/{shipment_id}/ship", None, expected)
    return GUARDED


def _pos_sale(run: Run, product_id: str, qty: int) -> Taken:
    order = run.next_id("P")
    short = qty > run.promisable(product_id)  # unreserved units: promisable stock only
    line = {"orderItemSeqId": "1", "productId": product_id, "quantity": qty}
    body = {"orderId": order, "facilityId": FAC, "items": [line]}
    response = run.call("POST", "/v1/pos-sales", body, 409 if short else 201)
    if response.status_code == 201:
        run.sold.append((order, product_id, qty))
    return GUARDED  # unreserved units come from promisable stock only


def _return(run: Run, which: int, qty: int) -> Taken:
    if not run.sold:
        _pos_sale(run, "FG002", 5)  # something to return
    if not run.sold:
        return GUARDED
    order, product_id, sold = run.sold[which % len(run.sold)]
    return_id = run.next_id("R")
    quantity = min(qty, sold)
    line = {
        "returnItemSeqId": "1",
        "orderItemSeqId": "1",
        "productId": product_id,
        "returnQuantity": quantity,
    }
    body = {"returnId": return_id, "orderId": order, "facilityId": FAC, "items": [line]}
    returnable = quantity <= sold - run.returned.get(order, 0)  # else 409 return_exceeds_shipped
    run.call("POST", "/v1/returns", body, 201 if returnable else 409)
    if returnable:
        run.returned[order] = run.returned.get(order, 0) + quantity
        inspect = {"outcome": "AVAILABLE"}
        run.call("POST", f"/v1/returns/{return_id}/items/1/inspect", inspect, 200)
    return GUARDED


def _reject(run: Run, which: int, mode: str) -> Taken:
    if not run.reserved:
        return GUARDED
    order, _, _ = run.reserved.pop(which % len(run.reserved))
    expected = 200 if run.holds(order) else 404  # no reservation left, and no item named instead
    body = {"rejectionMode": mode, "rejectReasonId": "REJ_DAMAGED"}
    run.call("POST", f"/v1/orders/{order}/items/1/reject", body, expected)
    # The release gives each item back what it held; the mode then takes at most that from it.
    return GUARDED


STEPS: dict[str, Callable[..., Taken]] = {
    "receive": _receive,
    "reserve": _reserve,
    "cancel": _cancel,
    "variance": _variance,
    "count": _count,
    "ship": _ship,
    "pos_sale": _pos_sale,
    "return": _return,
    "reject": _reject,
}


def _empty(db: Database) -> None:
    """Delete every row but the reference data (PostgreSQL: the run's shared test database)."""
    with db.engine.begin() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        conn.execute(text(f"TRUNCATE {', '.join(t for t in tables if t not in KEPT_TABLES)} CASCADE"))


@contextmanager
def _fresh_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / f"example-{next(_examples)}.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        path.unlink()
        return
    url = str(request.getfixturevalue("postgres_url"))
    db = Database(url)
    _empty(db)
    db.dispose()
    yield url


_examples = itertools.count()


def _below_zero(before: dict[str, Decimal], after: dict[str, Decimal], taken: Taken) -> dict[str, Decimal]:
    """Items outside `taken` whose ATP the step took below zero, or lower when it was there."""
    return {
        item_id: atp
        for item_id, atp in after.items()
        if item_id not in taken and atp < min(before.get(item_id, Decimal(0)), Decimal(0))
    }


@pytest.fixture
def replay(request: pytest.FixtureRequest) -> None:
    """The seed, printed and shown with a failure: STOCKLEDGER_PROPERTY_SEED=<it> replays the run."""
    print(f"property test seed: STOCKLEDGER_PROPERTY_SEED={SEED}")
    request.node.add_report_section("call", "replay", f"STOCKLEDGER_PROPERTY_SEED={SEED}")


@seed(SEED)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=12))
def test_any_sequence_keeps_the_ledger_rule_and_atp(
    steps: list[tuple[Any, ...]], backend: str, request: pytest.FixtureRequest, tmp_path: Path, replay: None
) -> None:
    with _fresh_database(request, backend, tmp_path) as url:
        db = Database(url)
        load_documents(db, seed_documents())
        sole = {product_id: add_sole_item(db, product_id, units) for product_id, units in SOLE_ITEMS.items()}
        with db.transaction() as session:
            token = create_token(session, "admin", description="property test").token
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with TestClient(create_app(url), raise_server_exceptions=False, headers=headers) as client:
                run = Run(client, db, sole=sole)
                before = run.atps()
                for number, (name, *args) in enumerate(steps, 1):
                    taken = STEPS[name](run, *args)
                    after = run.atps()
                    below = _below_zero(before, after, taken)
                    assert below == {}, f"step {number} {name}{tuple(args)} took ATP below zero: {steps}"
                    before = after
            with db.reading() as session:
                assert find_mismatches(session) == []
        finally:
            db.dispose()
