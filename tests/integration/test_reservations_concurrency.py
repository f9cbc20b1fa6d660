"""Concurrent reservations on PostgreSQL: no unit promised twice, no deadlock between orders."""

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock
from stockledger.reservations.service import ReserveLine, reserve_stock
from tests.conftest import POSTGRES_LIKE
from tests.shipping_support import FACILITY, product_totals
from tests.stock_support import reservations

D = Decimal


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_sixteen_threads_one_unit_each_exactly_atp_succeed(seeded: Database) -> None:
    atp = int(product_totals(seeded, "FG002")[1])  # 31 over two items
    workers = Database(str(seeded.engine.url.render_as_string(hide_password=False)), pool_size=20)

    def one(n: int) -> str:
        try:
            with workers.transaction() as session:
                reserve_stock(session, f"T{n}", FACILITY, [ReserveLine("1", "FG002", D(1))])
            return "ok"
        except InsufficientStock:
            return "409"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(one, range(atp + 20)))
    workers.dispose()
    assert outcomes.count("ok") == atp
    assert outcomes.count("409") == 20
    assert product_totals(seeded, "FG002") == (D(31), D(0))


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_multi_line_orders_in_random_order_never_deadlock_or_oversell(seeded: Database) -> None:
    workers = Database(str(seeded.engine.url.render_as_string(hide_password=False)), pool_size=20)
    products = ["FG001", "FG002", "FG003"]

    def order(n: int) -> str:
        rng = random.Random(n)
        lines = [ReserveLine(str(k), p, D(rng.randint(1, 3))) for k, p in enumerate(rng.sample(products, 3))]
        try:
            with workers.transaction() as session:
                reserve_stock(session, f"M{n}", FACILITY, lines, "PARTIAL" if n % 2 else "ALL_OR_NOTHING")
            return "ok"
        except InsufficientStock:
            return "409"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(order, range(80)))
    workers.dispose()
    assert set(outcomes) <= {"ok", "409"}
    assert "ok" in outcomes
    for product, qoh in (("FG001", 31), ("FG002", 31), ("FG003", 62)):
        on_hand, atp = product_totals(seeded, product)
        assert on_hand == qoh
        assert atp >= 0
    promised = sum(r[2] for n in range(80) for r in reservations(seeded, f"M{n}"))
    assert promised == 124 - sum(product_totals(seeded, p)[1] for p in products)
