"""post_batch writes exactly what `post` would for each posting in turn (rows, seq ids, totals)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.errors import AppError, InsufficientStock, NotFound
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.post import Links, Posted, Posting, post, post_batch

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
                detail_seq_id=seq_id,
            )
        )
    return result


def _snapshot(session: Session) -> tuple[list[Any], list[Any]]:
    i, d = InventoryItem, InventoryItemDetail
    items = session.execute(
        select(
            i.inventory_item_id,
            i.quantity_on_hand_total,
            i.available_to_promise_total,
            i.accounting_quantity_total,
            i.last_detail_seq,
        ).order_by(i.facility_id, i.inventory_item_id)
    ).all()
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
