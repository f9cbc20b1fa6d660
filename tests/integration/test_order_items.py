"""One order item, one product (SPEC §11), on both databases: every way in refuses another
product with order_item_conflict and changes nothing; concurrent first uses cannot both win;
a shipment line issues only from its own product's reservations."""

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, event, select, text

from stockledger.core import migrate
from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock, OrderItemConflict
from stockledger.core.transactions import command_transaction
from stockledger.ledger.models import ItemIssuance, OrderItem
from stockledger.ledger.rules_check import check_rules
from stockledger.rejection.service import Rejection, reject_order_item
from stockledger.reservations.service import ReserveLine, reserve_line_async, reserve_stock
from stockledger.returns.schemas import ReturnIn
from stockledger.returns.service import process_return
from stockledger.shipping.confirm import confirm_shipment
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosSaleIn, ShipmentCreate
from stockledger.shipping.service import create_shipment
from tests.conftest import POSTGRES_LIKE
from tests.reserve_support import reserve_line
from tests.scope_support import second_facility
from tests.shipping_support import FACILITY, snapshot
from tests.stock_support import SOLE_ITEM_POST, add_sole_item, reservations

D = Decimal
SOLO = "SOLO-1"  # a product with one item: PostgreSQL's one-statement path takes its lines


def _reserve(db: Database, order_id: str, seq: str, product_id: str, quantity: int) -> None:
    with db.transaction() as session:
        reserve_stock(session, order_id, FACILITY, [ReserveLine(seq, product_id, D(quantity))])


def _reserve_alone(db: Database, order_id: str, seq: str, product_id: str, quantity: int) -> None:
    reserve_line(db, order_id, FACILITY, ReserveLine(seq, product_id, D(quantity)))


RESERVE_WAYS = {"reserve_stock": _reserve, "reserve_line": _reserve_alone}


@pytest.fixture
def solo(seeded: Database) -> str:
    return add_sole_item(seeded, SOLO, 10)


@pytest.mark.parametrize("way", sorted(RESERVE_WAYS))
def test_reserving_an_order_item_for_another_product_is_refused(
    seeded: Database, solo: str, way: str
) -> None:
    _reserve(seeded, "O1", "00001", "FG001", 2)
    before = snapshot(seeded)
    with pytest.raises(OrderItemConflict) as refused:
        RESERVE_WAYS[way](seeded, "O1", "00001", SOLO, 5)
    assert refused.value.extra == {
        "orderId": "O1",
        "orderItemSeqId": "00001",
        "productId": "FG001",
        "requestedProductId": SOLO,
    }
    assert snapshot(seeded) == before
    RESERVE_WAYS[way](seeded, "O1", "00001", "FG001", 1)  # its own product: still fine
    assert [r[2] for r in reservations(seeded, "O1")] == [D(3)]


def test_an_order_of_several_lines_is_refused_whole(seeded: Database) -> None:
    _reserve(seeded, "O1", "2", "FG002", 1)
    before = snapshot(seeded)
    with pytest.raises(OrderItemConflict), seeded.transaction() as session:
        lines = [ReserveLine("1", "FG001", D(1)), ReserveLine("2", "FG003", D(1))]
        reserve_stock(session, "O1", FACILITY, lines)
    assert snapshot(seeded) == before


@pytest.mark.parametrize("way", sorted(RESERVE_WAYS))
def test_a_refused_reservation_does_not_claim_the_order_item(seeded: Database, solo: str, way: str) -> None:
    before = snapshot(seeded)
    with pytest.raises(InsufficientStock):
        RESERVE_WAYS[way](seeded, "O9", "1", SOLO, 11)
    assert snapshot(seeded) == before
    RESERVE_WAYS[way](seeded, "O9", "1", "FG001", 1)


@pytest.mark.parametrize("way", sorted(RESERVE_WAYS))
def test_of_two_concurrent_first_uses_the_second_is_refused(seeded: Database, solo: str, way: str) -> None:
    """The first holds its claim uncommitted while the second runs (on PostgreSQL, the one
    statement's own guard cannot see it yet: its claim waits, then aborts the statement)."""
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            RESERVE_WAYS[way](seeded, "O5", "1", SOLO, 2)
            outcome.append(None)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    with seeded.transaction() as session:
        reserve_stock(session, "O5", FACILITY, [ReserveLine("1", "FG001", D(2))])
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # waits for the first's claim
    racer.join(10)
    [refused] = outcome
    assert isinstance(refused, OrderItemConflict)
    assert [(r[1], r[2]) for r in reservations(seeded, "O5")] == [("FG001-INV-001", D(2))]


OTHER_FACILITY = "FACILITY_2"  # tests.scope_support.second_facility: FG001 and FG002, one item each


def _claims(db: Database, order_id: str) -> list[tuple[str, str]]:
    with db.reading() as session:
        rows = session.execute(
            select(OrderItem.facility_id, OrderItem.product_id)
            .where(OrderItem.order_id == order_id)
            .order_by(OrderItem.facility_id)
        )
        return [(f, p) for f, p in rows]


@pytest.mark.parametrize("way", sorted(RESERVE_WAYS))
def test_an_order_item_of_another_product_in_another_facility_is_refused(seeded: Database, way: str) -> None:
    """The claims in other facilities are read (on Citus: the one read over every shard)."""
    second_facility(seeded)
    _reserve(seeded, "O8", "1", "FG001", 2)
    before = snapshot(seeded)
    with pytest.raises(OrderItemConflict) as refused:
        if way == "reserve_line":
            reserve_line(seeded, "O8", OTHER_FACILITY, ReserveLine("1", "FG002", D(1)))
        else:
            with seeded.transaction() as session:
                reserve_stock(session, "O8", OTHER_FACILITY, [ReserveLine("1", "FG002", D(1))])
    assert (refused.value.extra["productId"], refused.value.extra["requestedProductId"]) == ("FG001", "FG002")
    assert snapshot(seeded) == before
    assert _claims(seeded, "O8") == [(FACILITY, "FG001")]


@pytest.mark.corrupts_ledger  # it makes the pair `stockledger verify` reports
@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_a_first_use_in_another_facility_not_yet_committed_is_not_seen(seeded: Database) -> None:
    """The cross-facility part of the rule is a read, on one server as on Citus (docs/scaling.md):
    another facility's claim that has not committed is not seen (READ COMMITTED) and nothing
    waits for it (the primary key that serialises first uses is per facility). Both commit, and
    `stockledger verify` reports the order item (one_product_per_order_item). SQLite serialises
    writers, so there the second sees the first."""
    second_facility(seeded)
    done: list[BaseException | int] = []

    def second() -> None:
        try:
            outcome = reserve_line(seeded, "O10", OTHER_FACILITY, ReserveLine("1", "FG002", D(1)))
            done.append(int(outcome.lines[0].quantity_reserved))
        except BaseException as error:  # handed to the test thread
            done.append(error)

    with seeded.transaction() as session:
        reserve_stock(session, "O10", FACILITY, [ReserveLine("1", "FG001", D(1))])
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(30)
        assert not racer.is_alive()  # it did not wait for the first's claim
    assert done == [1]
    assert _claims(seeded, "O10") == [(FACILITY, "FG001"), (OTHER_FACILITY, "FG002")]
    with seeded.reading() as session:
        assert check_rules(session)["one_product_per_order_item"] == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_a_first_use_in_another_facility_waits_and_is_refused(seeded: Database) -> None:
    """SQLite serialises writers (BEGIN IMMEDIATE): the second first use waits for the first's
    commit, then reads its claim."""
    second_facility(seeded)
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            reserve_line(seeded, "O11", OTHER_FACILITY, ReserveLine("1", "FG002", D(1)))
            outcome.append(None)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    with seeded.transaction() as session:
        reserve_stock(session, "O11", FACILITY, [ReserveLine("1", "FG001", D(1))])
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # waits for the first's transaction
    racer.join(30)
    [refused] = outcome
    assert isinstance(refused, OrderItemConflict)
    assert _claims(seeded, "O11") == [(FACILITY, "FG001")]


def _shipment(
    order_id: str, seq: str, product_id: str, quantity: int, shipment_id: str = "SH-1"
) -> ShipmentCreate:
    item = {
        "shipmentItemSeqId": "00001",
        "orderItemSeqId": seq,
        "productId": product_id,
        "quantity": quantity,
    }
    doc = {
        "shipmentId": shipment_id,
        "primaryOrderId": order_id,
        "originFacilityId": FACILITY,
        "items": [item],
    }
    return ShipmentCreate.model_validate(doc)


def _create_shipment(db: Database) -> None:
    with db.transaction() as session:
        create_shipment(session, _shipment("O1", "00001", "FG002", 2))


def _pos_sale(db: Database) -> None:
    items = [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 1}]
    with db.transaction() as session:
        record_pos_sale(
            session, PosSaleIn.model_validate({"orderId": "O1", "facilityId": FACILITY, "items": items})
        )


def _reject(db: Database) -> None:
    with db.transaction() as session:
        reject_order_item(session, Rejection("O1", "00001", "ATP_QOH_ONE", None, None, FACILITY, "FG002"))


def _reject_anywhere(db: Database) -> None:
    with db.transaction() as session:
        reject_order_item(session, Rejection("O1", "00001", "RELEASE", product_id="FG002"))


def _return(db: Database) -> None:
    items = [{"returnItemSeqId": "1", "orderItemSeqId": "00001", "productId": "FG002", "returnQuantity": 1}]
    doc = {"returnId": "R1", "orderId": "O1", "facilityId": FACILITY, "items": items}
    with db.transaction() as session:
        process_return(session, ReturnIn.model_validate(doc))


OTHER_WAYS: dict[str, Callable[[Database], None]] = {
    "shipment": _create_shipment,
    "pos_sale": _pos_sale,
    "reject": _reject,
    "reject_without_facility": _reject_anywhere,
    "return": _return,
}


@pytest.mark.parametrize("way", sorted(OTHER_WAYS))
def test_every_other_way_in_refuses_another_product(seeded: Database, way: str) -> None:
    _reserve(seeded, "O1", "00001", "FG001", 2)
    before = snapshot(seeded)
    with pytest.raises(OrderItemConflict):
        OTHER_WAYS[way](seeded)
    assert snapshot(seeded) == before


def test_a_shipment_claims_its_order_items(seeded: Database) -> None:
    _create_shipment(seeded)  # O1/00001 is FG002 from now on
    with pytest.raises(OrderItemConflict):
        _reserve(seeded, "O1", "00001", "FG001", 1)


@pytest.mark.corrupts_ledger  # two products on one order item, as data from before the rule may hold
def test_a_shipment_line_issues_only_from_its_own_products_reservations(seeded: Database) -> None:
    _reserve(seeded, "O1", "00001", "FG001", 2)
    with seeded.transaction() as session:
        session.execute(delete(OrderItem))
    _reserve(seeded, "O1", "00001", "FG002", 5)
    with seeded.transaction() as session:
        create_shipment(session, _shipment("O1", "00001", "FG002", 2))
        confirm_shipment(session, "SH-1")
    with seeded.reading() as session:
        issued = session.query(ItemIssuance.inventory_item_id, ItemIssuance.quantity).all()
    assert [(i, q) for i, q in issued] == [("FG002-INV-001", D(2))]
    assert {(r[1], r[2], r[4]) for r in reservations(seeded, "O1")} == {
        ("FG001-INV-001", D(2), "RES_ACTIVE"),
        ("FG002-INV-001", D(3), "RES_ACTIVE"),
    }


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_event_loops_statement_loses_a_concurrent_first_use_cleanly(seeded: Database, solo: str) -> None:
    """reserve_line_async (POST /v1/reservations on the async pool): its statement's claim waits
    for the first use, then aborts the statement, nothing written; the general path (in a
    worker thread, the statement not sent again) answers 409."""
    outcome: list[object] = []
    sent: list[str] = []

    def _sent(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(sql)

    async def on_the_loop() -> None:
        await seeded.open_async()
        try:
            line = ReserveLine("1", SOLO, D(2))
            opened = partial(command_transaction, seeded)
            outcome.append(await reserve_line_async(seeded, "O7", FACILITY, line, open_transaction=opened))
        except OrderItemConflict as refused:
            outcome.append(refused)
        finally:
            await seeded.close_async()

    with seeded.transaction() as session:
        reserve_stock(session, "O7", FACILITY, [ReserveLine("1", "FG001", D(2))])
        event.listen(seeded.engine, "before_cursor_execute", _sent)
        racer = threading.Thread(target=asyncio.run, args=(on_the_loop(),))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # waits for the first's claim
    racer.join(10)
    event.remove(seeded.engine, "before_cursor_execute", _sent)
    assert [type(o) for o in outcome] == [OrderItemConflict]
    assert sent  # the general path's statements
    assert not any(sql.startswith(SOLE_ITEM_POST) for sql in sent)
    assert [(r[1], r[2]) for r in reservations(seeded, "O7")] == [("FG001-INV-001", D(2))]
    with pytest.raises(OrderItemConflict):
        reserve_line(seeded, "O7", FACILITY, ReserveLine("1", SOLO, D(2)))


def _migrate(db: Database, revision: str) -> None:
    """Up with `stockledger migrate`'s own steps (on Citus one migration a transaction); down one
    revision a transaction too, as Citus needs for a key change after a parallel statement."""
    if revision == "head":
        migrate.upgrade(db.engine)
        return
    config = migrate.alembic_config(db.engine)
    while _current(db) != revision:
        with db.engine.connect() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
            connection.commit()


def _current(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@pytest.mark.corrupts_ledger  # the data from before 0013 names O1/1 with two products
def test_migration_0013_fills_order_items_from_their_first_use(seeded: Database) -> None:
    _migrate(seeded, "0012")
    try:
        with seeded.engine.begin() as conn:
            for order_id, item, product, when in (
                ("O1", "FG001-INV-001", "FG001", "2026-01-01 10:00:00"),
                ("O1", "FG002-INV-001", "FG002", "2026-01-02 10:00:00"),
                ("O2", "FG003-INV-001", "FG003", "2026-01-03 10:00:00"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO order_item_inventory_reservation (facility_id, order_id, "
                        "order_item_seq_id, inventory_item_id, product_id, quantity, quantity_not_available, "
                        "reserved_datetime, status_id, status_datetime) "
                        "VALUES (:f, :o, '1', :i, :p, 0, 0, :t, 'RES_ACTIVE', :t)"
                    ),
                    {"f": FACILITY, "o": order_id, "i": item, "p": product, "t": when},
                )
    finally:
        _migrate(seeded, "head")
    with seeded.reading() as session:
        claims = session.execute(
            select(OrderItem.order_id, OrderItem.order_item_seq_id, OrderItem.product_id)
        )
        assert sorted(claims) == [("O1", "1", "FG001"), ("O2", "1", "FG003")]
        assert check_rules(session)["one_product_per_order_item"] == 1
