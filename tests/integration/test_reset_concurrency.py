"""Two ERP resets of the same products at once set, they never add up (PostgreSQL, real threads).

A product with no item in the facility yet had no row to lock: each run diffed it against "no
item", and the second posted its diff onto the item the first created (10 and 20 sent, 30 left).
Both reset paths: the set-based one (resets/set_based.py) and the line batches (Citus's).
"""

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.resets import set_based
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from stockledger.resets.sources import csv_lines
from tests.conftest import POSTGRES_LIKE
from tests.promisable_support import add_item

F = "FACILITY_1"  # promisable_support's FACILITY
ROUNDS = 20
PRODUCTS = 20  # per CSV (batches of 7 lines)


def _new_products(db: Database, ids: list[str]) -> None:
    with db.transaction() as session:
        import_document(session, {"facilityId": F, "products": [{"productId": p} for p in ids]})


def _json_run(product: str, value: int) -> Callable[[Database], None]:
    def run(db: Database) -> None:
        with db.transaction() as session:
            reset_inventory(session, [RawLine(1, F, product, value, None)])

    return run


def _csv_run(products: list[str], value: int) -> Callable[[Database], None]:
    rows = ["facilityId,productId,quantityOnHand", *(f"{F},{p},{value}" for p in products)]

    def run(db: Database) -> None:
        with db.transaction() as session:
            reset_inventory(session, csv_lines(rows), batch_size=7)

    return run


def _race(db: Database, first: Callable[[Database], None], second: Callable[[Database], None]) -> None:
    """Both runs released together by a barrier, `second` a moment later (the order asked)."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def go(run: Callable[[Database], None], delay: float) -> None:
        try:
            barrier.wait()
            time.sleep(delay)
            run(db)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    timed = ((first, 0.0), (second, 0.02))
    threads = [threading.Thread(target=go, args=(run, delay)) for run, delay in timed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _state(db: Database, product: str) -> tuple[Decimal, Decimal, Decimal, int]:
    """QOH over the product's items, the sum of their ledger diffs, ATP, and how many items."""
    i, d = InventoryItem, InventoryItemDetail
    with db.reading() as session:
        qoh, atp, items = session.execute(
            select(
                func.sum(i.quantity_on_hand_total), func.sum(i.available_to_promise_total), func.count()
            ).where(i.facility_id == F, i.product_id == product)
        ).one()
        ledger = session.scalar(
            select(func.coalesce(func.sum(d.quantity_on_hand_diff), 0))
            .join(i, (i.facility_id == d.facility_id) & (i.inventory_item_id == d.inventory_item_id))
            .where(i.facility_id == F, i.product_id == product)
        )
    return Decimal(qoh), Decimal(ledger), Decimal(atp), int(items)


@pytest.fixture(params=["set_based", "batches"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "batches":  # the line batches, as on Citus
        monkeypatch.setattr(set_based, "applies", lambda session: False)
    return str(request.param)


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_two_concurrent_single_line_resets_of_a_new_product_set_it(seeded: Database, path: str) -> None:
    products = [f"RACE-{n:02d}" for n in range(ROUNDS)]
    _new_products(seeded, products)
    for n, product in enumerate(products):
        a, b = (10, 20) if n % 2 == 0 else (20, 10)  # both orders
        _race(seeded, _json_run(product, a), _json_run(product, b))
        qoh, ledger, atp, items = _state(seeded, product)
        assert qoh in (10, 20), f"round {n} ({path}): QOH {qoh}"
        assert (ledger, atp, items) == (qoh, qoh, 1)


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_two_concurrent_csv_resets_of_new_products_set_them(seeded: Database, path: str) -> None:
    for n in range(ROUNDS):
        products = [f"RC{n:02d}-{k:03d}" for k in range(PRODUCTS)]
        _new_products(seeded, products)
        a, b = (10, 20) if n % 2 == 0 else (20, 10)
        _race(seeded, _csv_run(products, a), _csv_run(products, b))
        for product in products:
            qoh, ledger, atp, items = _state(seeded, product)
            assert qoh in (10, 20), f"round {n} ({path}) {product}: QOH {qoh}"
            assert (ledger, atp, items) == (qoh, qoh, 1)


@pytest.mark.posts_without_events  # add_item posts the setup's stock directly
@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_two_concurrent_resets_of_a_product_whose_facility_item_is_held_set_it(
    seeded: Database, path: str
) -> None:
    """The held facility item was locked by both runs, but not the promisable item the first
    creates: the second, having waited on the held one, did not see it and diffed against none."""
    for n in range(ROUNDS):
        product = f"RH-{n:02d}"
        add_item(seeded, product, f"{product}-HELD", 7, status_id="INV_ON_HOLD")
        a, b = (10, 20) if n % 2 == 0 else (20, 10)
        _race(seeded, _json_run(product, a), _json_run(product, b))
        qoh, ledger, atp, items = _state(seeded, product)
        assert qoh in (10, 20), f"round {n} ({path}): QOH {qoh}"
        assert (ledger, atp, items) == (qoh, qoh, 2)
