"""The keys a reservation writes (migrations 0016–0018), on both databases: one foreign key, to
its item AND the item's product; the outbox and reservation keys led by what is read, with no
second index that only reorders them; PostgreSQL's item pages keep room for HOT updates."""

from decimal import Decimal

import pytest
from sqlalchemy import exc, inspect, text

from stockledger.core.db import Database
from stockledger.ledger.models import OrderItemInventoryReservation
from tests.shipping_support import FACILITY
from tests.stock_support import add_sole_item, reservations

SOLO = "SOLO-KEYS"
RESERVATION = "order_item_inventory_reservation"


def _reservation(item: str, product: str) -> OrderItemInventoryReservation:
    return OrderItemInventoryReservation(
        facility_id=FACILITY,
        order_id="KEYS-1",
        order_item_seq_id="00001",
        inventory_item_id=item,
        product_id=product,
        quantity=Decimal(1),
    )


def test_a_reservation_of_another_product_than_its_item_is_refused(seeded: Database) -> None:
    item = add_sole_item(seeded, SOLO, 10)
    with pytest.raises(exc.IntegrityError), seeded.transaction() as session:
        session.add(_reservation(item, "FG001"))  # a product that exists, not the item's
        session.flush()
    assert reservations(seeded, "KEYS-1") == []  # the item's own product: every reservation test


def test_a_reservation_of_an_item_that_does_not_exist_is_refused(seeded: Database) -> None:
    add_sole_item(seeded, SOLO, 10)
    with pytest.raises(exc.IntegrityError), seeded.transaction() as session:
        session.add(_reservation("NO-SUCH-ITEM", SOLO))
        session.flush()


def test_the_written_tables_keys_and_indexes(db: Database) -> None:
    schema = inspect(db.engine)
    keys = {t: schema.get_pk_constraint(t)["constrained_columns"] for t in ("outbox_event", RESERVATION)}
    assert keys == {
        "outbox_event": ["event_seq", "facility_id"],
        RESERVATION: ["order_id", "order_item_seq_id", "facility_id", "inventory_item_id"],
    }
    assert [i["name"] for i in schema.get_indexes("outbox_event")] == []
    assert [i["name"] for i in schema.get_indexes(RESERVATION)] == ["ix_reservation_facility_product"]
    [key] = schema.get_foreign_keys(RESERVATION)
    assert (key["referred_table"], key["constrained_columns"]) == (
        "inventory_item",
        ["facility_id", "inventory_item_id", "product_id"],
    )
    if db.is_postgres:
        with db.engine.connect() as conn:
            options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'inventory_item'"))
            assert options.scalar() == ["fillfactor=90"]
