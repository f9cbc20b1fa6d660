"""Concurrent reservations on PostgreSQL never take more than the product's NET promisable ATP:
an item with negative ATP (stock owed) is locked and counted with the positive ones."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock
from stockledger.ledger.views import availability
from stockledger.reservations.service import ReserveLine, reserve_stock
from tests.conftest import POSTGRES_LIKE
from tests.promisable_support import FACILITY, FAR, add_item

D = Decimal
pytestmark = pytest.mark.posts_without_events  # add_item posts the setup's stock directly


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_threads_reserve_exactly_the_net_and_no_more(seeded: Database) -> None:
    add_item(seeded, "N1", "N1-FAC", 5, atp=-10)  # owes 10
    add_item(seeded, "N1", "N1-LOT-A", 20, expire_date=FAR)
    add_item(seeded, "N1", "N1-LOT-B", 10)
    assert availability(seeded, FACILITY, "N1").available_to_promise_total == D(20)
    workers = Database(str(seeded.engine.url.render_as_string(hide_password=False)), pool_size=20)

    def one(n: int) -> Decimal:
        fill = "PARTIAL" if n % 3 == 0 else "ALL_OR_NOTHING"
        try:
            with workers.transaction() as session:
                line = ReserveLine("1", "N1", D(1 + n % 2))
                outcome = reserve_stock(session, f"N{n}", FACILITY, [line], fill)
            return outcome.lines[0].quantity_reserved
        except InsufficientStock:
            return D(0)

    with ThreadPoolExecutor(max_workers=16) as pool:
        reserved = list(pool.map(one, range(60)))
    workers.dispose()
    assert sum(reserved) == D(20)  # 90 asked, 20 promisable net: all of it, not the 30 on hand in lots
    assert availability(seeded, FACILITY, "N1").available_to_promise_total == D(0)
