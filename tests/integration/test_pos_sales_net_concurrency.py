"""Concurrent POS sales on PostgreSQL never sell more than the product's NET promisable ATP: they
lock the product's items as reservations do (item id order) and count the negative ones too."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock
from stockledger.ledger.views import availability
from stockledger.reservations.service import ReserveLine, reserve_stock
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosItemIn, PosSaleIn
from tests.conftest import POSTGRES_LIKE
from tests.promisable_support import EXPIRED, FACILITY, FAR, add_item

D = Decimal
pytestmark = pytest.mark.posts_without_events  # add_item posts the setup's stock directly


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_threads_sell_exactly_the_net_and_no_more(seeded: Database) -> None:
    add_item(seeded, "P1", "P1-FAC", 5, atp=-10)  # owes 10
    add_item(seeded, "P1", "P1-LOT-A", 20, expire_date=FAR)
    add_item(seeded, "P1", "P1-LOT-B", 10)
    add_item(seeded, "P1", "P1-OLD", 7, expire_date=EXPIRED)  # never sold: no allowExpired
    assert availability(seeded, FACILITY, "P1").available_to_promise_total == D(20)
    workers = Database(str(seeded.engine.url.render_as_string(hide_password=False)), pool_size=20)

    def one(n: int) -> Decimal:
        quantity = D(1 + n % 2)
        try:
            with workers.transaction() as session:
                if n % 4 == 0:  # reservations race the sales on the same locks
                    reserve_stock(
                        session, f"R{n}", FACILITY, [ReserveLine("1", "P1", quantity)], "ALL_OR_NOTHING"
                    )
                else:
                    item = PosItemIn(order_item_seq_id="1", product_id="P1", quantity=quantity)
                    record_pos_sale(session, PosSaleIn(order_id=f"S{n}", facility_id=FACILITY, items=[item]))
            return quantity
        except InsufficientStock:
            return D(0)

    with ThreadPoolExecutor(max_workers=16) as pool:
        taken = list(pool.map(one, range(60)))
    workers.dispose()
    assert sum(taken) == D(20)  # 90 asked, 20 promisable net: all of it, not the 30 fresh on hand
    after = availability(seeded, FACILITY, "P1")
    assert after.available_to_promise_total == D(0)
    assert after.quantity_on_hand_total == D(42) - sum(t for n, t in enumerate(taken) if n % 4 != 0)
