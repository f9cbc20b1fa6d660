"""An initial load through the set-based reset on PostgreSQL writes each new ProductFacility link
once (issue 17: session 9's lock of unstocked links had every link inserted, then updated to name
its new item: the initial load of 100,000 lines ran about 10 % slower than session 8's). The link
is inserted naming the item the run creates; a product the run leaves at zero keeps a link that
names no item, as before."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.ledger.models import Facility, InventoryItem, Product, ProductFacility
from stockledger.ledger.views import availability
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

FACILITY = "WH_LINKS"


def _catalog(db: Database, products: list[str]) -> None:
    with db.transaction() as session:
        session.add(Facility(facility_id=FACILITY, facility_name="links"))
        session.add_all([Product(product_id=p, product_name=p) for p in products])


def _writes(session: Session) -> tuple[int, int]:
    """Rows inserted into and updated in product_facility as the connection's server process
    counts them (PostgreSQL): the transaction's, plus those of the connection's earlier
    transactions not yet reported (at most once a second): only a difference of two readings in
    one transaction is its own (`_written`)."""
    row = session.execute(
        text(
            "SELECT pg_stat_get_xact_tuples_inserted('product_facility'::regclass),"
            " pg_stat_get_xact_tuples_updated('product_facility'::regclass)"
        )
    ).one()
    return int(row[0]), int(row[1])


def _written(session: Session, before: tuple[int, int]) -> tuple[int, int]:
    inserted, updated = _writes(session)
    return inserted - before[0], updated - before[1]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_initial_load_writes_each_link_once(db: Database) -> None:
    products = [f"LINK{n:03}" for n in range(40)]
    _catalog(db, products)
    lines = [RawLine(n + 1, FACILITY, p, n + 1, None) for n, p in enumerate(products)]
    with db.transaction() as session:
        before = _writes(session)
        outcome = reset_inventory(session, lines)
        assert outcome.lines_changed == 40
        assert _written(session, before) == (40, 0)
    with db.reading() as session:
        for n, p in enumerate(products):
            link = session.get(ProductFacility, (FACILITY, p))
            assert link is not None
            assert link.inventory_item_id is not None
            item = session.get(InventoryItem, (FACILITY, link.inventory_item_id))
            assert item is not None
            assert item.product_id == p
            assert availability(session, FACILITY, p).quantity_on_hand_total == n + 1


def test_unstocked_product_set_to_zero_links_no_item(db: Database) -> None:
    """A line that leaves an unstocked product at zero creates no item; its link names none
    (a run that changed nothing for it), and a later line creates the item and names it."""
    _catalog(db, ["ZERO1", "SOME1"])
    with db.transaction() as session:
        outcome = reset_inventory(
            session, [RawLine(1, FACILITY, "ZERO1", 0, None), RawLine(2, FACILITY, "SOME1", 5, None)]
        )
        assert outcome.lines_changed == 1
    with db.reading() as session:
        zero = session.get(ProductFacility, (FACILITY, "ZERO1"))
        assert zero is None or zero.inventory_item_id is None
        assert session.query(InventoryItem).filter_by(facility_id=FACILITY, product_id="ZERO1").count() == 0
    with db.transaction() as session:
        assert reset_inventory(session, [RawLine(1, FACILITY, "ZERO1", 3, None)]).lines_changed == 1
    with db.reading() as session:
        zero = session.get(ProductFacility, (FACILITY, "ZERO1"))
        assert zero is not None
        assert zero.inventory_item_id is not None
        item = session.get(InventoryItem, (FACILITY, zero.inventory_item_id))
        assert item is not None
        assert item.product_id == "ZERO1"
        assert availability(session, FACILITY, "ZERO1").available_to_promise_total == 3


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_sync_of_stocked_products_looks_for_no_new_item(db: Database) -> None:
    """Every changed product's link names a promisable item (DIFFS sees it under its lock): the
    run skips NEW_ITEMS (its join of every changed line to the links and items) and its link
    writes; a product whose item is held still gets a new one, in a run that does look."""
    products = [f"SYNC{n:03}" for n in range(20)]
    _catalog(db, products)
    with db.transaction() as session:
        reset_inventory(session, [RawLine(n + 1, FACILITY, p, 5, None) for n, p in enumerate(products)])
    sync = [RawLine(n + 1, FACILITY, p, 7 + n, None) for n, p in enumerate(products)]
    with _statements(db) as sent, db.transaction() as session:
        before = _writes(session)
        assert reset_inventory(session, sync).lines_changed == 20
        assert _written(session, before) == (0, 0)
    assert not _new_items_looked_for(sent)
    with db.transaction() as session:
        session.execute(
            text(
                "UPDATE inventory_item SET status_id = 'INV_ON_HOLD'"
                " WHERE facility_id = :f AND product_id = :p"
            ),
            {"f": FACILITY, "p": products[0]},
        )
    with _statements(db) as sent, db.transaction() as session:
        assert reset_inventory(session, [RawLine(1, FACILITY, products[0], 2, None)]).lines_changed == 1
    assert _new_items_looked_for(sent)
    with db.reading() as session:
        items = session.query(InventoryItem).filter_by(facility_id=FACILITY, product_id=products[0])
        assert items.count() == 2  # the held one and the new one
        assert availability(session, FACILITY, products[0]).quantity_on_hand_total == 2
        assert [availability(session, FACILITY, p).quantity_on_hand_total for p in products[1:3]] == [8, 9]


def _new_items_looked_for(sent: list[str]) -> bool:
    return any(s.lstrip().startswith("CREATE TEMP TABLE reset_new_item ON COMMIT DROP AS") for s in sent)


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL the block sends through the database's engine."""
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
