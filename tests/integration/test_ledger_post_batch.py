"""post_batch writes exactly what `post` would for each posting in turn (rows, seq ids, totals)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.dialects import array_literal, from_arrays, one_of, plan_each_statement
from stockledger.core.errors import AppError, InsufficientStock, NotFound
from stockledger.core.statements import Statement, run
from stockledger.ledger.batch import post_batch, post_locked_batch
from stockledger.ledger.models import InventoryItem, InventoryItemDetail, Product
from stockledger.ledger.post import Links, LockedItem, Posted, Posting, post
from tests.conftest import POSTGRES_LIKE

pytestmark = pytest.mark.posts_without_events  # the write path alone: no business event

WHEN = datetime(2026, 1, 2, 3, 4, 5)
ITEMS = ["FG001-INV-001", "FG001-INV-002", "FG002-INV-001", "FG003-INV-002"]

quantities = st.decimals(min_value=-40, max_value=40, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def postings(draw: st.DrawFn) -> list[Posting]:
    count = draw(st.integers(1, 12))
    given_ids = iter(draw(st.lists(st.integers(1, 40), min_size=count, max_size=count, unique=True)))
    result = []
    for _ in range(count):
        item = draw(
            st.sampled_from([*ITEMS, "NO-SUCH-ITEM"])
            if draw(st.integers(0, 20)) == 0
            else st.sampled_from(ITEMS)
        )
        given = next(given_ids)
        seq_choice = draw(st.sampled_from([None, None, None, "numeric", "text"]))
        seq_id = {None: None, "numeric": f"{given:06d}", "text": f"X{given}"}[seq_choice]
        result.append(
            Posting(
                "FACILITY_1",
                item,
                draw(st.sampled_from(["VAR_EXT_RESET", "RESERVE", "VAR_LOST"])),
                quantity_on_hand_diff=draw(quantities),
                available_to_promise_diff=draw(quantities),
                accounting_quantity_diff=draw(st.none() | quantities),
                effective_date=WHEN,
                links=Links(order_id=draw(st.none() | st.sampled_from(["O1", "O2"])), description="d"),
                require_atp=draw(st.booleans()),
                require_qoh=draw(st.booleans()),
                detail_seq_id=seq_id,
            )
        )
    return result


# An item's id and what post_batch moves: totals and detail sequence
ITEM_STATE = (
    InventoryItem.inventory_item_id,
    InventoryItem.quantity_on_hand_total,
    InventoryItem.available_to_promise_total,
    InventoryItem.accounting_quantity_total,
    InventoryItem.last_detail_seq,
)


def _snapshot(session: Session) -> tuple[list[Any], list[Any]]:
    i, d = InventoryItem, InventoryItemDetail
    items = session.execute(select(*ITEM_STATE).order_by(i.facility_id, i.inventory_item_id)).all()
    columns = [c for c in d.__table__.columns if c.name != "created_stamp"]
    details = session.execute(select(*columns).order_by(d.facility_id, d.inventory_item_id, d.seq_num)).all()
    return [tuple(r) for r in items], [tuple(r) for r in details]


def _run(db: Database, apply: Any) -> tuple[Any, Any]:
    with db.sessions() as session, session.begin():
        try:
            outcome: Any = apply(session)
        except AppError as exc:
            outcome = (type(exc).__name__, exc.detail)
        state = _snapshot(session)
        session.rollback()
    return outcome, state


def _one_by_one(postings: list[Posting]) -> Any:
    def apply(session: Session) -> list[Posted]:
        return [post(session, p) for p in postings]

    return apply


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=postings())
def test_post_batch_is_repeated_post(seeded: Database, batch: list[Posting]) -> None:
    expected = _run(seeded, _one_by_one(batch))
    actual = _run(seeded, lambda session: post_batch(session, batch))
    assert actual == expected


def test_postings_on_one_item_accumulate_and_number_their_rows(seeded: Database) -> None:
    batch = [
        Posting("FACILITY_1", "FG002-INV-001", "R", Decimal(5), Decimal(5), links=Links(order_id="A")),
        Posting("FACILITY_1", "FG002-INV-001", "R", Decimal(-2), Decimal("-2.5")),
        Posting("FACILITY_1", "FG001-INV-002", "R", Decimal(1), Decimal(1)),
    ]
    with seeded.transaction() as session:
        posted = post_batch(session, batch)
    assert [(p.inventory_item_detail_seq_id, p.quantity_on_hand_total) for p in posted] == [
        ("00002", Decimal(27)),
        ("00003", Decimal(25)),
        ("00002", Decimal(19)),
    ]
    with seeded.reading() as session:
        item = session.get(InventoryItem, ("FACILITY_1", "FG002-INV-001"))
        assert item is not None
        assert (item.quantity_on_hand_total, item.available_to_promise_total) == (
            Decimal(25),
            Decimal("24.5"),
        )
        assert item.last_detail_seq == 3


def test_a_refused_posting_raises_like_post_and_the_transaction_rolls_back(seeded: Database) -> None:
    batch = [
        Posting("FACILITY_1", "FG003-INV-001", "R", available_to_promise_diff=Decimal(-30), require_atp=True),
        Posting("FACILITY_1", "FG003-INV-001", "R", available_to_promise_diff=Decimal(-6), require_atp=True),
    ]
    refused = pytest.raises(InsufficientStock, match="has 5 available to promise; 6 requested")
    with refused, seeded.transaction() as session:
        post_batch(session, batch)
    with pytest.raises(NotFound), seeded.transaction() as session:
        post_batch(session, [Posting("FACILITY_1", "GONE", "R", Decimal(1), Decimal(1))])
    with seeded.reading() as session:
        item = session.get(InventoryItem, ("FACILITY_1", "FG003-INV-001"))
        assert item is not None
        assert item.available_to_promise_total == Decimal(35)


def test_an_empty_batch_writes_nothing(seeded: Database) -> None:
    with seeded.transaction() as session:
        assert post_batch(session, []) == []


# ---- post_locked_batch: items locked by the caller, written from arrays (PostgreSQL) ----


def _locked(session: Session, batch: list[Posting]) -> dict[str, int]:
    """What a caller holds: the batch's items locked, with last_detail_seq read under the lock."""
    ids = sorted({p.inventory_item_id for p in batch})
    rows = session.execute(
        select(InventoryItem.inventory_item_id, InventoryItem.last_detail_seq)
        .where(InventoryItem.facility_id == "FACILITY_1", InventoryItem.inventory_item_id.in_(ids))
        .order_by(InventoryItem.inventory_item_id)
        .with_for_update()
    )
    return dict(rows.tuples().all())


def _outcome_kind(outcome: Any) -> Any:
    """A refusal's type (the two report ATP at different moments); else the whole outcome."""
    return outcome[0] if isinstance(outcome, tuple) else "posted"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=postings())
def test_post_locked_batch_is_post_batch(seeded: Database, batch: list[Posting]) -> None:
    """Same rows and totals when post_batch succeeds; refused (nothing written) when it refuses,
    whatever mix of guarded and unguarded, positive and negative postings an item gets."""
    batch = sorted(
        (p for p in batch if p.inventory_item_id != "NO-SUCH-ITEM"), key=lambda p: p.inventory_item_id
    )
    if not batch:
        return
    expected_outcome, expected_state = _run(seeded, lambda session: post_batch(session, batch))

    def locked_batch(session: Session) -> list[Posted]:
        return post_locked_batch(session, batch, _locked(session, batch))

    actual_outcome, actual_state = _run(seeded, locked_batch)
    assert _outcome_kind(actual_outcome) == _outcome_kind(expected_outcome)
    if _outcome_kind(expected_outcome) == "posted":
        assert actual_state == expected_state
        assert actual_outcome == expected_outcome  # each posting's totals right after it


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_post_locked_batch_refuses_an_item_that_moved_since_it_was_read(seeded: Database) -> None:
    """(SQLite: post_batch, under the database's write lock: nothing can move.)"""
    batch = [Posting("FACILITY_1", "FG001-INV-001", "R", Decimal(1), Decimal(1))]
    with seeded.reading() as session:
        before = _snapshot(session)
        read = _locked(session, batch)["FG001-INV-001"]
    with pytest.raises(RuntimeError, match="changed while locked"), seeded.transaction() as session:
        post_locked_batch(session, batch, {"FG001-INV-001": read - 1})  # a stale read
    with seeded.reading() as session:
        assert _snapshot(session) == before


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_from_arrays_gives_back_the_rows_it_was_given(db: Database) -> None:
    """Constant columns travel as one parameter, the others as arrays (unnest: PostgreSQL's); the
    query returns the rows."""
    table = InventoryItemDetail.__table__
    rows = [
        {
            "inventory_item_id": f"I{n}",
            "seq_num": n,
            "quantity_on_hand_diff": Decimal("1.5"),
            "order_id": None,
        }
        for n in range(3)
    ]
    same = [
        {"inventory_item_id": "X", "seq_num": 7, "quantity_on_hand_diff": Decimal(2), "order_id": "O"}
    ] * 2
    with db.reading() as session:
        query, params = from_arrays(session, table, rows)  # type: ignore[arg-type]
        assert set(params) == {"a_inventory_item_id", "a_seq_num", "k_quantity_on_hand_diff", "k_order_id"}
        assert run(session, Statement(query, params)) == [(f"I{n}", n, 1_500_000, None) for n in range(3)]
        query, params = from_arrays(session, table, same)  # type: ignore[arg-type]
        assert run(session, Statement(query, params)) == [("X", 7, 2_000_000, "O")] * 2


def test_post_locked_batch_of_nothing_writes_nothing(seeded: Database) -> None:
    """A PARTIAL order with nothing available has no posting at all."""
    with seeded.reading() as session:
        before = _snapshot(session)
    with seeded.transaction() as session:
        post_locked_batch(session, [], {"FG001-INV-001": 1})
    with seeded.reading() as session:
        assert _snapshot(session) == before


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
@given(
    texts=st.lists(TEXT, max_size=8),
    mixed=st.lists(st.one_of(st.none(), TEXT), max_size=8),
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=8),
    stamps=st.lists(st.datetimes(min_value=datetime(1900, 1, 1)), max_size=4),
)
def test_array_literal_is_read_back_as_the_values(
    db: Database, texts: list[str], mixed: list[str | None], ints: list[int | None], stamps: list[datetime]
) -> None:
    """Quotes, backslashes, braces, commas, blanks, 'NULL', unicode, empty lists: what was sent comes
    back (PostgreSQL array literals)."""
    with db.reading() as session:
        sent = {"t": texts, "m": [*mixed, "NULL", " a b ", "{x,y}"], "i": ints, "s": stamps}
        query = Statement(
            "SELECT :t::text[], :m::text[], :i::bigint[], :s::timestamp[]",
            {k: array_literal(v) for k, v in sent.items()},
        )
        assert run(session, query) == [(texts, sent["m"], ints, stamps)]


# ---- post_batch given the items its caller read under lock (the ERP reset does) ----


def _read_locked(session: Session, ids: list[str]) -> dict[tuple[str, str], LockedItem]:
    i = InventoryItem
    rows = session.execute(
        select(*ITEM_STATE)
        .where(i.facility_id == "FACILITY_1", one_of(session, i.inventory_item_id, ids))
        .order_by(i.inventory_item_id)
        .with_for_update()
    )
    return {("FACILITY_1", item): (qoh, atp, acc, seq) for item, qoh, atp, acc, seq in rows}


def _two_postings() -> list[Posting]:
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)  # both runs must write the same rows
    return [
        Posting("FACILITY_1", "FG001-INV-001", "R", Decimal(2), Decimal(2), effective_date=at),
        Posting(
            "FACILITY_1", "FG002-INV-001", "R", Decimal(-1), Decimal(-1), require_atp=True, effective_date=at
        ),
        Posting("FACILITY_1", "FG001-INV-001", "R", Decimal(1), Decimal(0), effective_date=at),
    ]


def test_post_batch_on_items_read_by_its_caller_writes_what_it_writes_alone(seeded: Database) -> None:
    db = seeded
    with db.transaction() as session:
        alone = post_batch(session, _two_postings())
        expected = _snapshot(session)
        session.rollback()
    with db.transaction() as session:
        locked = _read_locked(session, ["FG001-INV-001", "FG002-INV-001"])
        assert len(locked) == 2
        assert post_batch(session, _two_postings(), locked) == alone
    with db.reading() as session:
        assert _snapshot(session) == expected


def test_post_batch_refuses_a_stale_read_of_its_caller(seeded: Database) -> None:
    db = seeded
    with db.reading() as session:
        before = _snapshot(session)
    with pytest.raises(RuntimeError, match="changed while locked"), db.transaction() as session:
        locked = _read_locked(session, ["FG001-INV-001", "FG002-INV-001"])
        qoh, atp, acc, seq = locked[("FACILITY_1", "FG001-INV-001")]
        locked[("FACILITY_1", "FG001-INV-001")] = (qoh, atp, acc, seq - 1)
        post_batch(session, _two_postings(), locked)
    with db.reading() as session:
        assert _snapshot(session) == before


def test_one_of_selects_what_in_selects(seeded: Database) -> None:
    db = seeded
    wanted = ["FG001", "FG003", "NOPE", 'it\'s "quoted"']
    with db.reading() as session:
        p = Product.__table__.c.product_id
        found = set(session.scalars(select(p).where(one_of(session, p, wanted))))
        assert found == set(session.scalars(select(p).where(p.in_(wanted)))) == {"FG001", "FG003"}


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_plan_each_statement_holds_for_the_transaction_only(db: Database) -> None:
    """plan_cache_mode is PostgreSQL's."""
    with db.transaction() as session:
        plan_each_statement(session)
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    with db.reading() as session:
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"


# ---- the door: `post` chooses how to write what it is given ----


def test_the_door_writes_items_held_by_their_sequence_as_post_batch_does(seeded: Database) -> None:
    """Held by last_detail_seq alone (as reservations hold them): on PostgreSQL two statements
    from arrays, guarded by the database; the same rows, totals and answer as post_batch."""
    batch = sorted(_two_postings(), key=lambda p: p.inventory_item_id)
    expected = _run(seeded, lambda session: post_batch(session, batch))
    sent: list[str] = []

    def _sent(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(sql)

    def door(session: Session) -> list[Posted]:
        held = {("FACILITY_1", item): seq for item, seq in _locked(session, batch).items()}
        event.listen(seeded.engine, "before_cursor_execute", _sent)
        try:
            return post(session, batch, held=held)
        finally:
            event.remove(seeded.engine, "before_cursor_execute", _sent)

    assert _run(seeded, door) == expected
    if seeded.is_postgres:
        assert len(sent) == 2
        assert "unnest" in sent[0]
