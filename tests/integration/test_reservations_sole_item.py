"""A line whose product has one INV_AVAILABLE item: on PostgreSQL one statement does it all.

The same rows and event as the general path (SQLite runs the general path on the same
scenario, with the same expected values), and it falls back without writing anything. Through
`reserve_line` (POST /v1/reservations without an Idempotency-Key) that statement is its own
transaction, committed in autocommit.
"""

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.errors import Forbidden, InsufficientStock
from stockledger.core.scope import FacilityScoped
from stockledger.core.statements import Statement
from stockledger.core.transactions import command_transaction
from stockledger.events.feed import read_feed
from stockledger.events.models import OutboxEvent
from stockledger.events.outbox import record_event
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.post import IN_TRANSACTION, post_sole_item
from stockledger.ledger.verify import find_mismatches
from stockledger.metrics.ledger_rows import count_ledger_rows
from stockledger.reservations import service
from stockledger.reservations.lines import sole_item
from stockledger.reservations.service import ReserveLine, ReserveOutcome, reserve_stock
from stockledger.reservations.service import _reserve as general_path
from tests.conftest import POSTGRES_LIKE
from tests.reserve_support import reserve_line
from tests.shipping_support import FACILITY, details, events, totals
from tests.stock_support import (
    SOLE_ITEM_POST,
    add_sole_item,
    committed_alone,
    reservations,
    sole_item_tries,
)

D = Decimal
SOLO = "SOLO-1"


@pytest.fixture
def solo(seeded: Database) -> str:
    """A product with exactly one item in the facility, 10 on hand and available."""
    return add_sole_item(seeded, SOLO, 10)


@pytest.fixture
def statements(seeded: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def _count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(seeded.engine, "before_cursor_execute", _count)
    yield seen
    event.remove(seeded.engine, "before_cursor_execute", _count)


def _heads(statements: list[str]) -> list[list[str]]:
    return [sql.split(None, 3)[:3] for sql in statements]


# Citus: the one statement in steps that each stay on the facility's shard but one read
# (ledger/sole_item_steps_pg.py; test_citus.py reads their plans): the order item's claims in the
# other facilities, the post, then detail, reservation, event and claim.
CITUS_STEPS = [
    ["SELECT", "1", "FROM"],
    ["WITH", "picked", "AS"],
    ["INSERT", "INTO", "inventory_item_detail"],
    ["INSERT", "INTO", "order_item_inventory_reservation"],
    ["INSERT", "INTO", "outbox_event"],
    ["INSERT", "INTO", "order_item"],
]


def _reserve(db: Database, order_id: str, quantity: int, fill: str = "ALL_OR_NOTHING") -> ReserveOutcome:
    with db.transaction() as session:
        return reserve_stock(session, order_id, FACILITY, [ReserveLine("1", SOLO, D(quantity))], fill)


def test_a_sole_item_line_writes_the_rows_and_event_of_the_general_path(
    seeded: Database, solo: str, statements: list[str], backend: str
) -> None:
    statements.clear()
    outcome = _reserve(seeded, "SO1", 3)
    if backend == "postgres":
        assert len(statements) == 1
        assert statements[0].startswith(SOLE_ITEM_POST)
    if backend == "citus":
        assert _heads(statements) == CITUS_STEPS
    [line] = outcome.lines
    assert [(r.inventory_item_id, r.quantity, r.quantity_not_available) for r in line.reservations] == [
        (solo, D(3), D(0))
    ]
    assert totals(seeded, solo) == (D(10), D(7))
    [receipt, reserved] = details(seeded, solo)
    assert (receipt.inventory_item_detail_seq_id, reserved.inventory_item_detail_seq_id) == ("00001", "00002")
    assert (
        reserved.seq_num,
        reserved.quantity_on_hand_diff,
        reserved.available_to_promise_diff,
        reserved.accounting_quantity_diff,
        reserved.reason_enum_id,
        reserved.order_id,
        reserved.order_item_seq_id,
    ) == (2, D(0), D(-3), D(0), "RESERVATION", "SO1", "1")
    assert reserved.effective_date.tzinfo is not None
    assert reservations(seeded, "SO1") == [("1", solo, D(3), D(0), "RES_ACTIVE")]
    assert [e for e in events(seeded, "StockReserved") if e["orderId"] == "SO1"] == [
        {
            "facilityId": FACILITY,
            "orderId": "SO1",
            "fill": "ALL_OR_NOTHING",
            "productIds": [SOLO],
            "lines": [
                {
                    "orderItemSeqId": "1",
                    "productId": SOLO,
                    "quantityRequested": 3,
                    "quantityReserved": 3,
                    "quantityNotAvailable": 0,
                    "reservations": [{"inventoryItemId": solo, "quantity": 3, "quantityNotAvailable": 0}],
                }
            ],
        }
    ]


def test_reserving_the_line_again_grows_its_row(seeded: Database, solo: str) -> None:
    _reserve(seeded, "SO2", 3)
    _reserve(seeded, "SO2", 2, "PARTIAL")
    assert reservations(seeded, "SO2") == [("1", solo, D(5), D(0), "RES_ACTIVE")]
    assert totals(seeded, solo) == (D(10), D(5))


def test_a_short_line_falls_back_and_writes_nothing(seeded: Database, solo: str) -> None:
    with pytest.raises(InsufficientStock):
        _reserve(seeded, "SO3", 11)
    assert totals(seeded, solo) == (D(10), D(10))
    assert len(details(seeded, solo)) == 1
    assert reservations(seeded, "SO3") == []
    partial = _reserve(seeded, "SO4", 11, "PARTIAL")  # the general path takes what there is
    assert partial.lines[0].quantity_reserved == 10
    backorder = _reserve(seeded, "SO5", 4, "BACKORDER")
    assert [(r.quantity, r.quantity_not_available) for r in backorder.lines[0].reservations] == [(D(4), D(4))]
    assert totals(seeded, solo) == (D(10), D(-4))


def test_a_second_item_sends_the_line_to_the_general_path(
    seeded: Database, solo: str, statements: list[str]
) -> None:
    with seeded.transaction() as session:
        lot = InventoryItem(
            facility_id=FACILITY,
            inventory_item_id="SOLO-LOT-A",
            inventory_item_type_id="NON_SERIAL_INV_ITEM",
            product_id=SOLO,
            status_id="INV_AVAILABLE",
            lot_id="A",
            expire_date=None,
            datetime_received=None,
        )
        session.add(lot)
    statements.clear()
    outcome = _reserve(seeded, "SO6", 2)
    assert len(statements) > 1  # locked and planned
    assert [r.inventory_item_id for r in outcome.lines[0].reservations] == [solo]


def test_detail_numbers_past_99999_are_written_in_full(seeded: Database, solo: str) -> None:
    """The statement formats the detail sequence as format_seq does: five digits, more if needed."""
    with seeded.transaction() as session:
        session.execute(
            update(InventoryItem)
            .where(InventoryItem.inventory_item_id == solo)
            .values(last_detail_seq=99_999)
        )
    _reserve(seeded, "SO7", 1)
    with seeded.reading() as session:
        newest = session.execute(
            select(InventoryItemDetail.inventory_item_detail_seq_id, InventoryItemDetail.seq_num)
            .where(InventoryItemDetail.inventory_item_id == solo)
            .order_by(InventoryItemDetail.seq_num.desc())
            .limit(1)
        ).one()
        count = session.scalar(
            select(func.count())
            .select_from(InventoryItemDetail)
            .where(InventoryItemDetail.inventory_item_id == solo)
        )
    assert tuple(newest) == ("100000", 100_000)
    assert count == 2


# ---- reserve_line: the one-item route's transaction of its own (PostgreSQL: one statement) ----


@dataclass(frozen=True)
class _Scope:
    facilities: frozenset[str]
    login_id: str = "scoped.caller"

    def may_touch(self, facility_id: str) -> bool:
        return facility_id in self.facilities


@pytest.fixture
def alone(seeded: Database) -> Iterator[list[tuple[str, int]]]:
    with committed_alone(seeded) as seen:
        yield seen


def test_reserve_line_is_one_statement_committed_alone_with_the_same_rows(
    seeded: Database, solo: str, statements: list[str], alone: list[tuple[str, int]], backend: str
) -> None:
    statements.clear()
    outcome = reserve_line(seeded, "SL1", FACILITY, ReserveLine("1", SOLO, D(3)))
    if backend == "postgres":
        assert statements == []  # no Session, no BEGIN or COMMIT of its own
        assert [(sql.startswith(SOLE_ITEM_POST), returned) for sql, returned in alone] == [(True, 1)]
    elif backend == "citus":  # a transaction of its own, in steps
        assert alone == []
        assert _heads(statements) == CITUS_STEPS
    else:
        assert alone == []  # SQLite: reserve_stock in a transaction
        assert len(statements) > 1
    assert [(r.inventory_item_id, r.quantity) for r in outcome.lines[0].reservations] == [(solo, D(3))]
    assert totals(seeded, solo) == (D(10), D(7))
    [_, reserved] = details(seeded, solo)
    assert (reserved.seq_num, reserved.available_to_promise_diff, reserved.order_id) == (2, D(-3), "SL1")
    assert reservations(seeded, "SL1") == [("1", solo, D(3), D(0), "RES_ACTIVE")]
    [event] = [e for e in events(seeded, "StockReserved") if e["orderId"] == "SL1"]
    assert event["lines"][0]["reservations"] == [
        {"inventoryItemId": solo, "quantity": 3, "quantityNotAvailable": 0}
    ]


def test_the_ledger_chooses_how_the_sole_item_reservation_is_written(
    seeded: Database, solo: str, alone: list[tuple[str, int]], backend: str
) -> None:
    """The caller hands the ledger its Database (no transaction yet) or its Session; the
    ledger alone decides: committed alone, in the transaction (Citus: in steps), or not at all."""
    line = ReserveLine("1", SOLO, D(2))
    first = post_sole_item(seeded, sole_item("SD1", FACILITY, line, "ALL_OR_NOTHING"), None)
    with sole_item_tries(seeded) as tries, seeded.transaction() as session:
        second = post_sole_item(session, sole_item("SD2", FACILITY, line, "ALL_OR_NOTHING"))
    if backend == "postgres":
        assert (first, second) == (solo, solo)
        assert [returned for _, returned in alone] == [1]
        assert tries == [1]
        assert totals(seeded, solo) == (D(10), D(6))
    elif backend == "citus":  # no change runs alone there: its steps, in the transaction
        assert (first, second) == (IN_TRANSACTION, solo)
        assert (alone, tries) == ([], [1])
        assert totals(seeded, solo) == (D(10), D(8))
    else:  # SQLite: nothing sent, answered at once (the general path would write it)
        assert (first, second) == (None, None)
        assert (alone, tries) == ([], [])
        assert totals(seeded, solo) == (D(10), D(10))


def test_reserve_line_falls_back_to_a_transaction_when_the_sole_item_is_short(
    seeded: Database, solo: str, alone: list[tuple[str, int]], backend: str
) -> None:
    with pytest.raises(InsufficientStock):
        reserve_line(seeded, "SL2", FACILITY, ReserveLine("1", SOLO, D(11)))
    assert totals(seeded, solo) == (D(10), D(10))
    assert reservations(seeded, "SL2") == []
    assert [e for e in events(seeded, "StockReserved") if e["orderId"] == "SL2"] == []
    partial = reserve_line(seeded, "SL3", FACILITY, ReserveLine("1", SOLO, D(11)), "PARTIAL")
    assert partial.lines[0].quantity_reserved == 10
    assert totals(seeded, solo) == (D(10), D(0))
    if backend == "postgres":  # both tried the statement first; it returned nothing and wrote nothing
        assert [returned for _, returned in alone] == [0, 0]


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_the_statement_writes_the_event_payload_of_the_general_path_byte_for_byte(
    seeded: Database, solo: str
) -> None:
    other = add_sole_item(seeded, "SOLO-2", 10)
    with sole_item_tries(seeded) as tries:
        reserve_line(seeded, "SB1", FACILITY, ReserveLine("1", SOLO, D(3)))  # the one statement
        with seeded.transaction() as session:  # the general path, as after the statement wrote nothing
            line = ReserveLine("1", "SOLO-2", D(3))
            general_path(session, "SB2", FACILITY, [line], "ALL_OR_NOTHING", sole_item_first=False)
    assert tries == [1]  # the second: the general path
    with seeded.reading() as session:
        found = dict(
            session.execute(
                select(OutboxEvent.payload, OutboxEvent.event_seq).where(
                    OutboxEvent.event_type == "StockReserved"
                )
            ).all()
        )
    [statement, general] = sorted(found, key=found.__getitem__)
    assert '"inventoryItemId":"' + solo + '"' in statement
    same = statement.replace("SB1", "SB2").replace(solo, other).replace(SOLO + '"', 'SOLO-2"')
    assert same == general


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_the_statements_event_is_fenced_until_it_commits(seeded: Database, solo: str) -> None:
    """The one statement raises its event's fence before it takes the number (core/fence.py):
    a later event committed first is not served while the reservation's transaction runs."""
    with Session(seeded.engine) as running, Session(seeded.engine) as later:
        with sole_item_tries(seeded) as tries:
            reserve_stock(running, "SF1", FACILITY, [ReserveLine("1", SOLO, D(1))], "ALL_OR_NOTHING")
        assert tries == [1]
        reserved = running.scalars(
            select(OutboxEvent.event_seq).where(OutboxEvent.event_type == "StockReserved")
        ).one()
        after = record_event(later, FACILITY, "InventoryChanged", {"after": True})
        later.commit()
        assert after > reserved
        assert not {reserved, after} & set(_served(seeded))
        running.commit()
    assert _served(seeded)[-2:] == [reserved, after]


def _served(db: Database) -> list[int]:
    with db.reading() as session:
        return [e.event_seq for e in read_feed(session, 0, 1000)]


def test_reserve_line_refuses_a_facility_outside_the_callers_scope(seeded: Database, solo: str) -> None:
    with pytest.raises(Forbidden):
        reserve_line(seeded, "SL4", FACILITY, ReserveLine("1", SOLO, D(1)), principal=_Scope(frozenset()))
    assert totals(seeded, solo) == (D(10), D(10))
    assert reservations(seeded, "SL4") == []
    mine = _Scope(frozenset({FACILITY}))
    assert reserve_line(seeded, "SL5", FACILITY, ReserveLine("1", SOLO, D(1)), principal=mine).lines
    assert totals(seeded, solo) == (D(10), D(9))
    assert [d.change_by_user_login_id for d in details(seeded, solo)][-1] == "scoped.caller"


def test_reserve_line_counts_its_ledger_row_when_committed(seeded: Database, solo: str) -> None:
    count_ledger_rows(seeded)
    before = REGISTRY.get_sample_value("stockledger_ledger_rows_posted_total") or 0.0
    reserve_line(seeded, "SL6", FACILITY, ReserveLine("1", SOLO, D(2)))
    with pytest.raises(InsufficientStock):
        reserve_line(seeded, "SL7", FACILITY, ReserveLine("1", SOLO, D(50)))
    after = REGISTRY.get_sample_value("stockledger_ledger_rows_posted_total") or 0.0
    assert after - before == 1


def test_reserve_line_from_many_threads_never_oversells(seeded: Database, solo: str) -> None:
    """40 one-unit lines from 8 threads on 10 available: exactly 10 succeed, ATP ends at 0."""

    def attempt(n: int) -> bool:
        try:
            reserve_line(seeded, f"SLT{n}", FACILITY, ReserveLine("1", SOLO, D(1)))
        except InsufficientStock:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert outcomes.count(True) == 10
    assert totals(seeded, solo) == (D(10), D(0))
    assert len(details(seeded, solo)) == 11
    with seeded.reading() as session:
        assert find_mismatches(session) == []


def test_run_alone_on_an_unreachable_server_is_sqlalchemys_operational_error(db: Database) -> None:
    """What the problem handlers turn into a 503 (a raw driver error would be a 500)."""
    down = Database("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(OperationalError):
        down.run_alone(Statement("WITH x AS (SELECT 1) SELECT * FROM x", {}))
    down.dispose()


def test_reserve_line_async_checks_once_and_the_ledger_answers_at_once(
    seeded: Database, solo: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route without an Idempotency-Key: the line and scope checked once, the sole-item
    statement tried once where it can be used (PostgreSQL: alone on the event loop; Citus: its
    steps in the transaction) and never on SQLite, where the ledger says the general path at once."""
    checked: list[str] = []
    check_scope = service.check_scope

    def _counted(principal: FacilityScoped | None, facility_id: str) -> None:
        checked.append(facility_id)
        check_scope(principal, facility_id)

    monkeypatch.setattr(service, "check_scope", _counted)

    async def on_the_loop() -> ReserveOutcome:
        await seeded.open_async()
        try:
            line = ReserveLine("1", SOLO, D(2))
            return await service.reserve_line_async(
                seeded, "SA1", FACILITY, line, open_transaction=lambda: command_transaction(seeded)
            )
        finally:
            await seeded.close_async()

    with sole_item_tries(seeded) as tries, committed_alone(seeded) as alone:
        outcome = asyncio.run(on_the_loop())
    assert [(line.quantity_reserved, line.reservations[0].inventory_item_id) for line in outcome.lines] == [
        (D(2), solo)
    ]
    assert checked == [FACILITY]
    assert tries == ([] if backend == "sqlite" else [1])
    assert len(alone) == (1 if backend == "postgres" else 0)
    assert totals(seeded, solo) == (D(10), D(8))
    assert reservations(seeded, "SA1") == [("1", solo, D(2), D(0), "RES_ACTIVE")]
