"""The availability read's two paths (pooled driver connection, ORM session) agree, on both databases."""

from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError

from stockledger.core.db import Database
from stockledger.core.errors import NotFound
from stockledger.ledger import views
from stockledger.reservations.service import ReserveLine, reserve_stock


def test_driver_read_and_session_read_agree(seeded: Database) -> None:
    with seeded.transaction() as session:
        reserve_stock(session, "ORDER_A", "FACILITY_1", [ReserveLine("00001", "FG001", Decimal("2.5"))])
    for product in ("FG001", "FG002", "FG003"):
        fast = views.availability(seeded, "FACILITY_1", product)
        with seeded.reading() as session:
            slow = views.availability(session, "FACILITY_1", product)
        assert fast == slow
        assert isinstance(fast.available_to_promise_total, Decimal)
    fg001 = views.availability(seeded, "FACILITY_1", "FG001")
    assert fg001.reserved_quantity == Decimal("2.5")
    assert fg001.computed_inventory_count == fg001.available_to_promise_total - fg001.minimum_stock


def test_unknown_facility_or_product_is_not_found(seeded: Database) -> None:
    with pytest.raises(NotFound, match="Facility NOPE"):
        views.availability(seeded, "NOPE", "FG001")
    with pytest.raises(NotFound, match="Product NOPE"):
        views.availability(seeded, "FACILITY_1", "NOPE")


def test_unreachable_server_is_sqlalchemys_operational_error(db: Database) -> None:
    """What the problem handlers turn into a 503 (a raw driver error would be a 500)."""
    down = Database("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(OperationalError):
        down.fetch_one(views.AVAILABILITY, {"facility_id": "F", "product_id": "P"})
    down.dispose()
