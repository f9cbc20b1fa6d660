"""One posting: a guarded UPDATE … RETURNING of the item, then the INSERT of its detail row;
or, for an item the transaction has locked and read, both in one round trip with the
caller's other writes (core.statements.run_together)."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from stockledger.core.actor import acting_user
from stockledger.core.scope import check_facility
from stockledger.core.statements import Statement, bound, fetched, run_together
from stockledger.ledger.postings import (
    ATP,
    DETAIL,
    DETAIL_COLUMNS,
    ITEM,
    QOH,
    TOTALS,
    Posted,
    Posting,
    detail_values,
    expire_loaded_item,
    format_seq,
    guards,
    numeric_seq,
    raise_refusal,
)


def post_one(session: Session, posting: Posting) -> Posted:
    """Apply one posting: new totals and their detail row, in the session's transaction."""
    check_facility(session, posting.facility_id)
    row = session.execute(_guarded_update(posting)).one_or_none()
    if row is None:
        raise_refusal(session, posting)
    seq_num, qoh, atp, acc = row
    seq_id = posting.detail_seq_id or format_seq(seq_num)
    values = detail_values(posting, seq_num, seq_id, user=acting_user(session))
    session.execute(insert(DETAIL).values(values))
    expire_loaded_item(session, posting)
    return Posted(posting.facility_id, posting.inventory_item_id, seq_id, qoh, atp, acc)


def post_locked(
    session: Session, posting: Posting, last_detail_seq: int, *also: Statement, now: datetime | None = None
) -> Posted:
    """`post` for an item this transaction has locked and read (`last_detail_seq` as read under
    the lock): the same rows, written in one round trip together with the caller's other writes
    (`also`, core.statements.run_together). Refused → the caller's transaction must roll back, since on
    PostgreSQL `also` ran in the same statement. `now`: the detail row's stamp, when the caller
    built `also` (its event) after taking it, so the row is not later than its event."""
    check_facility(session, posting.facility_id)
    given = numeric_seq(posting.detail_seq_id)
    seq_num = last_detail_seq + 1 if given is None else max(last_detail_seq + 1, given)
    seq_id = posting.detail_seq_id or format_seq(seq_num)
    change = bound(
        session,
        ITEM,
        {
            "facility_id": posting.facility_id,
            "inventory_item_id": posting.inventory_item_id,
            "quantity_on_hand_total": posting.quantity_on_hand_diff,
            "available_to_promise_total": posting.available_to_promise_diff,
            "accounting_quantity_total": posting.accounting_diff,
            "last_detail_seq": seq_num,
        },
    )
    update = Statement(_locked_update(posting), {**change, "last": last_detail_seq})
    values = detail_values(posting, seq_num, seq_id, now, user=acting_user(session))
    detail = Statement(_DETAIL_INSERT, bound(session, DETAIL, values))
    rows = run_together(session, [update, detail, *also])
    if not rows:
        raise_refusal(session, posting)
    qoh, atp, acc = fetched(session, _TOTAL_COLUMNS, rows[0])
    expire_loaded_item(session, posting)
    return Posted(posting.facility_id, posting.inventory_item_id, seq_id, qoh, atp, acc)


_TOTAL_COLUMNS = tuple(ITEM.c[name] for name in TOTALS)
_LOCKED_SET = (
    "UPDATE inventory_item SET "
    "quantity_on_hand_total = quantity_on_hand_total + :quantity_on_hand_total, "
    "available_to_promise_total = available_to_promise_total + :available_to_promise_total, "
    "accounting_quantity_total = accounting_quantity_total + :accounting_quantity_total, "
    "last_detail_seq = :last_detail_seq "
    "WHERE facility_id = :facility_id AND inventory_item_id = :inventory_item_id AND last_detail_seq = :last"
)
_RETURNING = f" RETURNING {', '.join(TOTALS)}"


def _locked_update(p: Posting) -> str:
    """The locked UPDATE with `guards(p)` as its floors (each total's diff is bound by its name)."""
    return _LOCKED_UPDATES[tuple(guards(p))]


def _with_floors(totals: tuple[str, ...]) -> str:
    floors = "".join(f" AND {total} + :{total} >= 0" for total in totals)
    return f"{_LOCKED_SET}{floors}{_RETURNING}"


# built once per set of guarded totals (`guards` gives QOH before ATP)
_FLOORED: tuple[tuple[str, ...], ...] = ((), (QOH,), (ATP,), (QOH, ATP))
_LOCKED_UPDATES = {t: _with_floors(t) for t in _FLOORED}
_DETAIL_INSERT = (
    f"INSERT INTO inventory_item_detail ({', '.join(DETAIL_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in DETAIL_COLUMNS)})"
)


def _guarded_update(p: Posting) -> ReturningUpdate[tuple[int, Decimal, Decimal, Decimal]]:
    next_seq = ITEM.c.last_detail_seq + 1
    given = numeric_seq(p.detail_seq_id)
    if given is not None:
        next_seq = case((next_seq > given, next_seq), else_=given)
    stmt = (
        update(ITEM)
        .where(ITEM.c.facility_id == p.facility_id, ITEM.c.inventory_item_id == p.inventory_item_id)
        .values(
            quantity_on_hand_total=ITEM.c.quantity_on_hand_total + p.quantity_on_hand_diff,
            available_to_promise_total=ITEM.c.available_to_promise_total + p.available_to_promise_diff,
            accounting_quantity_total=ITEM.c.accounting_quantity_total + p.accounting_diff,
            last_detail_seq=next_seq,
        )
        .returning(ITEM.c.last_detail_seq, *(ITEM.c[name] for name in TOTALS))
    )
    for total, diff in guards(p).items():
        stmt = stmt.where(ITEM.c[total] + diff >= 0)
    return stmt
