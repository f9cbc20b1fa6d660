"""findOrCreateFacilityInventoryItem: one facility item per product, even under a race."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from stockledger.catalog.importer import import_document
from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item
from stockledger.core.db import Database
from stockledger.core.errors import NotFound
from stockledger.ledger.models import InventoryItem, ProductFacility


def _new_product(db: Database, product_id: str) -> None:
    with db.transaction() as session:
        import_document(session, {"facilityId": "FACILITY_1", "products": [{"productId": product_id}]})


def test_an_existing_link_returns_the_first_loaded_item(seeded: Database) -> None:
    with seeded.transaction() as session:
        item = find_or_create_facility_inventory_item(session, "FACILITY_1", "FG001")
    assert item.inventory_item_id == "FG001-INV-001"  # the first of the two FG001 items in the document


def test_a_missing_link_creates_one_zero_item_once(seeded: Database) -> None:
    _new_product(seeded, "NEW-1")
    with seeded.transaction() as session:
        first = find_or_create_facility_inventory_item(session, "FACILITY_1", "NEW-1")
    with seeded.transaction() as session:
        again = find_or_create_facility_inventory_item(session, "FACILITY_1", "NEW-1")
    assert first.inventory_item_id == again.inventory_item_id
    assert (first.quantity_on_hand_total, first.available_to_promise_total) == (0, 0)
    with seeded.reading() as session:
        link = session.get(ProductFacility, ("FACILITY_1", "NEW-1"))
        assert link is not None
        assert link.inventory_item_id == first.inventory_item_id


@pytest.mark.parametrize(("facility", "product"), [("NOWHERE", "FG001"), ("FACILITY_1", "NOTHING")])
def test_unknown_facility_or_product_is_not_found_and_writes_nothing(
    seeded: Database, facility: str, product: str
) -> None:
    with pytest.raises(NotFound), seeded.transaction() as session:
        find_or_create_facility_inventory_item(session, facility, product)
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(InventoryItem)) == 6


def test_24_concurrent_callers_get_one_item(seeded: Database) -> None:
    """Runs on SQLite and on the real PostgreSQL server (the acceptance asks for the latter)."""
    _new_product(seeded, "RACE-1")
    barrier = threading.Barrier(24)

    def call(_: int) -> str:
        barrier.wait()
        with seeded.transaction() as session:
            return find_or_create_facility_inventory_item(session, "FACILITY_1", "RACE-1").inventory_item_id

    with ThreadPoolExecutor(max_workers=24) as pool:
        ids = set(pool.map(call, range(24)))
    assert len(ids) == 1
    with seeded.reading() as session:
        items = session.scalar(
            select(func.count()).select_from(InventoryItem).where(InventoryItem.product_id == "RACE-1")
        )
    assert items == 1
