"""A posting's guards (require_qoh, require_atp) give the same answer whichever way the ledger
writes it: one guarded UPDATE, the locked one-round-trip UPDATE (`held=` by sequence), the
batch fold (read here, or held as read), the array UPDATE (`held=` by sequence, PostgreSQL)
and the write-behind batch; on both databases (ledger/postings.py's `guards`)."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.errors import AppError
from stockledger.core.write_behind import WriteBehind
from stockledger.ledger.models import InventoryItem
from stockledger.ledger.post import Posting, post

pytestmark = pytest.mark.posts_without_events  # the write path alone: no business event

F, ITEM = "FACILITY_1", "FG003-INV-001"  # seed: QOH 35, ATP 35
KEY = (F, ITEM)
Apply = Callable[[Session, list[Posting]], Any]


def _read(session: Session) -> tuple[Decimal, Decimal, Decimal, int]:
    i = InventoryItem
    row = session.execute(
        select(i.quantity_on_hand_total, i.available_to_promise_total)
        .add_columns(i.accounting_quantity_total, i.last_detail_seq)
        .where(i.facility_id == F, i.inventory_item_id == ITEM)
        .with_for_update()
    ).one()
    return row[0], row[1], row[2], row[3]


def _one(session: Session, postings: list[Posting]) -> Any:
    return [post(session, p) for p in postings]


def _locked(session: Session, postings: list[Posting]) -> Any:
    seq = _read(session)[3]
    out = []
    for p in postings:
        out.append(post(session, p, held={KEY: seq}))
        seq = _read(session)[3]
    return out


def _batch(session: Session, postings: list[Posting]) -> Any:
    return post(session, postings)


def _batch_held_as_read(session: Session, postings: list[Posting]) -> Any:
    return post(session, postings, held={KEY: _read(session)})


def _batch_held_by_sequence(session: Session, postings: list[Posting]) -> Any:
    return post(session, postings, held={KEY: _read(session)[3]})


def _batch_written_behind(session: Session, postings: list[Posting]) -> Any:
    with WriteBehind(session):  # the ledger finds the block on the session (core.write_behind.writes_behind)
        return post(session, postings)


STRATEGIES: dict[str, Apply] = {
    "one": _one,
    "locked": _locked,
    "batch": _batch,
    "batch_held_as_read": _batch_held_as_read,
    "batch_held_by_sequence": _batch_held_by_sequence,
    "batch_written_behind": _batch_written_behind,
}


def _p(qoh: int = 0, atp: int = 0, *, require_qoh: bool = False, require_atp: bool = False) -> Posting:
    return Posting(
        F,
        ITEM,
        "VAR_LOST",
        quantity_on_hand_diff=Decimal(qoh),
        available_to_promise_diff=Decimal(atp),
        require_qoh=require_qoh,
        require_atp=require_atp,
    )


# guard case → postings, and the answer: the error's type or the totals (QOH, ATP) after them
TWICE_ATP_20 = [_p(0, -20, require_atp=True), _p(0, -20, require_atp=True)]
GUARDS: dict[str, tuple[list[Posting], Any]] = {
    "qoh_refused": ([_p(-100_000, require_qoh=True)], "NegativeStock"),
    "qoh_refused_past_atp": ([_p(-100_000, -100_000, require_qoh=True, require_atp=True)], "NegativeStock"),
    "qoh_passes": ([_p(-35, require_qoh=True)], (Decimal(0), Decimal(35))),
    "qoh_unguarded": ([_p(-100_000)], (Decimal(-99_965), Decimal(35))),
    "qoh_running_sum_refused": ([_p(-20, require_qoh=True), _p(-20, require_qoh=True)], "NegativeStock"),
    "atp_refused": ([_p(0, -36, require_atp=True)], "InsufficientStock"),
    "atp_refused_qoh_guard_passes": ([_p(-1, -36, require_qoh=True, require_atp=True)], "InsufficientStock"),
    "atp_passes": ([_p(0, -35, require_atp=True)], (Decimal(35), Decimal(0))),
    "atp_running_sum_refused": (TWICE_ATP_20, "InsufficientStock"),
    "growth_never_refused": (
        [_p(-40), _p(10, 10, require_qoh=True, require_atp=True)],
        (Decimal(5), Decimal(45)),
    ),
}


def _outcome(db: Database, apply: Apply, postings: list[Posting]) -> Any:
    with db.sessions() as session, session.begin():
        try:
            apply(session, postings)
        except AppError as refused:
            session.rollback()
            return type(refused).__name__, refused.detail
        qoh, atp, _, _ = _read(session)
        session.rollback()
        return qoh, atp


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_posting_gets_the_same_answer_whichever_way_it_is_written(
    seeded: Database, strategy: str, guard: str
) -> None:
    postings, expected = GUARDS[guard]
    outcome = _outcome(seeded, STRATEGIES[strategy], postings)
    if isinstance(expected, str):
        assert outcome[0] == expected
        assert outcome == _outcome(seeded, _one, postings)  # the same message, the same totals named
    else:
        assert outcome == expected
    with seeded.reading() as session:  # rolled back: the seed's totals
        item = session.get(InventoryItem, KEY)
        assert item is not None
        assert (item.quantity_on_hand_total, item.available_to_promise_total) == (Decimal(35), Decimal(35))
