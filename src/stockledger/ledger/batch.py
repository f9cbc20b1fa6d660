"""Batches: the same rows as posting each in turn, written set-based."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.bulk import execute_many
from stockledger.core.dialects import binds_arrays, from_arrays, one_of
from stockledger.core.fixed import ZERO, Fixed6, to_micros
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_facility
from stockledger.core.statements import RowsCheck, Statement, fetched_rows, run
from stockledger.core.write_behind import WriteBehind
from stockledger.ledger.batch_pg import FLOORED, array_update
from stockledger.ledger.postings import (
    ATP,
    DETAIL,
    ITEM,
    QOH,
    TOTALS,
    LockedItem,
    Posted,
    Posting,
    detail_values,
    expire_loaded_items,
    format_seq,
    guards,
    numeric_seq,
    raise_refusal,
    refused_total,
)

# Bind parameters per statement stay under SQLite's limit (32,766; PostgreSQL allows 65,535).
MAX_BIND_PARAMS = 30_000
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Planned:
    posting: Posting
    seq_num: int
    posted: Posted


def post_batch(
    session: Session,
    postings: Sequence[Posting],
    locked: Mapping[tuple[str, str], LockedItem] | None = None,
    writes: WriteBehind | None = None,
) -> list[Posted]:
    """Apply postings in order, set-based: exactly the rows and totals `post` would write for each.

    The items are read once under row locks (FOR UPDATE, in item id order; SQLite already
    holds the write lock), except those the caller has locked and read in this transaction
    (`locked`, keyed (facility, item)), the postings are folded in order in Python (so several
    on one item accumulate, and the ATP guard sees the running total), then each item's totals
    move once by the sum of its diffs and the detail rows are inserted: on PostgreSQL one
    statement each from arrays (per facility for the totals), on SQLite two driver executemany
    (core.bulk.execute_many).
    Like `post`, a refused posting raises after the postings before it are written.

    With `writes` (PostgreSQL), the two statements are sent and not waited for: the caller
    settles them before it reads again or commits (core.write_behind.WriteBehind).
    """
    if not postings:
        return []
    for facility_id in {p.facility_id for p in postings}:
        check_facility(session, facility_id)
    keys = {(p.facility_id, p.inventory_item_id) for p in postings}
    known = locked or {}
    state = {k: known[k] for k in keys if k in known}
    if len(state) < len(keys):
        state.update(_lock_items(session, keys - state.keys()))
    start = dict(state)
    planned: list[_Planned] = []
    refused: Posting | None = None
    for p in postings:
        step = _fold(state, p)
        if step is None:
            refused = p
            break
        planned.append(step)
    if planned:
        _write_totals(session, planned, start, writes)
        now, user = utcnow(), acting_user(session)  # one instant, one user: a parameter each, not arrays
        details = [
            detail_values(s.posting, s.seq_num, s.posted.inventory_item_detail_seq_id, now, user)
            for s in planned
        ]
        _insert_details(session, details, writes)
        expire_loaded_items(session, {(s.posting.facility_id, s.posting.inventory_item_id) for s in planned})
    if refused is not None:
        if writes is not None:
            writes.settle()  # the refusal reads the totals the sent writes left
        raise_refusal(session, refused)
    return [s.posted for s in planned]


def post_locked_batch(
    session: Session, postings: Sequence[Posting], locked: Mapping[str, int]
) -> list[Posted]:
    """`post_batch` for items this transaction has locked and read, all in one facility
    (`locked`: item id → last_detail_seq as read under the lock): the same rows and totals,
    written set-based on PostgreSQL in two statements whatever their number: the totals'
    UPDATE from arrays, checked against the sequence read and guarded as `post_batch` guards
    each posting in turn (ledger/postings.py's `guards`: an item's QOH and ATP must each cover
    the deepest running shortfall of the postings guarding it), then the detail rows' INSERT
    from arrays. Refused → NegativeStock or InsufficientStock (or NotFound) before any detail
    row is written; the caller's transaction rolls back.
    SQLite: `post_batch` (no network to save)."""
    if not postings:
        return []
    if not binds_arrays(session):
        return post_batch(session, postings)
    facilities = {p.facility_id for p in postings}
    if len(facilities) != 1:
        raise ValueError("post_locked_batch posts to one facility")
    (facility_id,) = facilities
    check_facility(session, facility_id)
    last = dict(locked)
    sums: dict[str, list[Decimal]] = {}
    need: dict[str, dict[str, Decimal]] = {}  # per item, per floored total: what it must hold
    details = []
    now, user = utcnow(), acting_user(session)
    for p in postings:
        item = p.inventory_item_id
        given = numeric_seq(p.detail_seq_id)
        seq_num = last[item] + 1 if given is None else max(last[item] + 1, given)
        last[item] = seq_num
        # one instant for the batch: one parameter, not an array (core.dialects.from_arrays)
        details.append(detail_values(p, seq_num, p.detail_seq_id or format_seq(seq_num), now, user))
        acc = sums.setdefault(item, [ZERO, ZERO, ZERO])
        acc[0] += p.quantity_on_hand_diff
        acc[1] += p.available_to_promise_diff
        acc[2] += p.accounting_diff
        running = {QOH: acc[0], ATP: acc[1]}
        for total in guards(p):  # post's guard: the total + the running sum >= 0
            floors = need.setdefault(item, {})
            floors[total] = max(floors.get(total, -running[total]), -running[total])
    items = sorted(sums)  # lock order, as everywhere
    update = array_update(
        facility_id,
        items,
        [sums[i] for i in items],
        [locked[i] for i in items],
        [last[i] for i in items],
        {t: [_floor(need.get(i, {}), t) for i in items] for t in FLOORED},
    )
    returned = fetched_rows(session, _RETURNED, run(session, update))
    after = {row[0]: list(row[1:]) for row in returned}
    if len(after) != len(items):
        _raise_first_refusal(session, [p for p in postings if p.inventory_item_id not in after])
    _insert_details(session, details)
    expire_loaded_items(session, {(facility_id, i) for i in items})
    return _posted_backwards(postings, details, after)


def _floor(floors: dict[str, Decimal], total: str) -> int | None:
    return to_micros(floors[total]) if total in floors else None


def _raise_first_refusal(session: Session, refused: Sequence[Posting]) -> NoReturn:
    """The first of the postings of the items the array UPDATE left (none of theirs written) that
    its guards refuse, folded from the items' stored totals; none: the items moved meanwhile."""
    stored = {
        item: {QOH: qoh, ATP: atp}
        for item, qoh, atp in session.execute(
            select(ITEM.c.inventory_item_id, ITEM.c[QOH], ITEM.c[ATP]).where(
                ITEM.c.facility_id == refused[0].facility_id,
                ITEM.c.inventory_item_id.in_({p.inventory_item_id for p in refused}),
            )
        )
    }
    earlier: dict[str, list[Posting]] = {}
    for p in refused:
        before = earlier.setdefault(p.inventory_item_id, [])
        totals = stored[p.inventory_item_id]
        if refused_total(p, totals) is not None:
            raise_refusal(session, p, before)
        before.append(p)
        totals[QOH] += p.quantity_on_hand_diff
        totals[ATP] += p.available_to_promise_diff
    raise RuntimeError("inventory items changed while locked: refusing to post the batch")


def _posted_backwards(
    postings: Sequence[Posting], details: list[dict[str, object]], after: dict[str, list[Decimal]]
) -> list[Posted]:
    """What each posting left: its item's totals after the batch, less the later postings' diffs."""
    posted = []
    for p, detail in zip(reversed(postings), reversed(details), strict=True):
        totals = after[p.inventory_item_id]
        seq_id = str(detail["inventory_item_detail_seq_id"])
        posted.append(Posted(p.facility_id, p.inventory_item_id, seq_id, *totals))
        totals[0] -= p.quantity_on_hand_diff
        totals[1] -= p.available_to_promise_diff
        totals[2] -= p.accounting_diff
    return posted[::-1]


_RETURNED = (ITEM.c.inventory_item_id, *(ITEM.c[t] for t in TOTALS))


def _lock_items(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], LockedItem]:
    """Per facility, `inventory_item_id IN (…)`: an index scan (a row-value IN is not, on PostgreSQL)."""
    found: dict[tuple[str, str], LockedItem] = {}
    by_facility: dict[str, list[str]] = {}
    for facility_id, item_id in sorted(keys):
        by_facility.setdefault(facility_id, []).append(item_id)
    for facility_id, item_ids in by_facility.items():
        for chunk in _chunks(item_ids, MAX_BIND_PARAMS):
            rows = session.execute(
                select(ITEM.c.inventory_item_id, *(ITEM.c[n] for n in TOTALS), ITEM.c.last_detail_seq)
                .where(ITEM.c.facility_id == facility_id, one_of(session, ITEM.c.inventory_item_id, chunk))
                .order_by(ITEM.c.inventory_item_id)
                .with_for_update()
            )
            for item, qoh, atp, acc, seq in rows:
                found[(facility_id, item)] = (qoh, atp, acc, seq)
    return found


def _fold(state: dict[tuple[str, str], LockedItem], p: Posting) -> _Planned | None:
    """The posting applied to the running totals, as `post`'s guarded UPDATE would; None if refused."""
    key = (p.facility_id, p.inventory_item_id)
    if key not in state:
        return None
    qoh, atp, acc, last = state[key]
    if refused_total(p, {QOH: qoh, ATP: atp}) is not None:
        return None
    given = numeric_seq(p.detail_seq_id)
    seq_num = last + 1 if given is None else max(last + 1, given)
    new = (qoh + p.quantity_on_hand_diff, atp + p.available_to_promise_diff, acc + p.accounting_diff)
    state[key] = (*new, seq_num)
    seq_id = p.detail_seq_id or format_seq(seq_num)
    return _Planned(p, seq_num, Posted(p.facility_id, p.inventory_item_id, seq_id, *new))


def _write_totals(
    session: Session,
    planned: list[_Planned],
    start: Mapping[tuple[str, str], LockedItem],
    writes: WriteBehind | None,
) -> None:
    """Each item's totals move once, by the sum of its diffs; its detail seq is checked, then set.

    PostgreSQL: one UPDATE from arrays per facility (ledger/batch_pg.py's array_update; a few
    parameters however many items). SQLite: one driver executemany (core.bulk.execute_many),
    which sqlite3 loops in C.
    """
    sums: dict[tuple[str, str], list[Decimal]] = {}
    last: dict[tuple[str, str], int] = {}
    for s in planned:
        key = (s.posting.facility_id, s.posting.inventory_item_id)
        acc = sums.setdefault(key, [ZERO, ZERO, ZERO])
        acc[0] += s.posting.quantity_on_hand_diff
        acc[1] += s.posting.available_to_promise_diff
        acc[2] += s.posting.accounting_diff
        last[key] = s.seq_num
    if binds_arrays(session):
        _write_totals_from_arrays(session, sums, start, last, writes)
        return
    rows = [
        {"f": f, "i": i, "qoh": q, "atp": a, "acc": c, "old_seq": start[(f, i)][3], "new_seq": last[(f, i)]}
        for (f, i), (q, a, c) in sorted(sums.items())
    ]
    if execute_many(session, _TOTALS_UPDATE, rows) != len(rows):
        raise RuntimeError("inventory items changed while locked: refusing to post the batch")


def _write_totals_from_arrays(
    session: Session,
    sums: dict[tuple[str, str], list[Decimal]],
    start: Mapping[tuple[str, str], LockedItem],
    last: dict[tuple[str, str], int],
    writes: WriteBehind | None,
) -> None:
    by_facility: dict[str, list[str]] = {}
    for facility_id, item in sorted(sums):
        by_facility.setdefault(facility_id, []).append(item)
    for facility_id, items in by_facility.items():
        keys = [(facility_id, i) for i in items]
        statement = array_update(
            facility_id,
            items,
            [sums[k] for k in keys],
            [start[k][3] for k in keys],
            [last[k] for k in keys],
            {},
        )
        if writes is None:
            _all_updated(len(items))(run(session, statement))
        else:
            writes.send(statement, _all_updated(len(items)))


def _all_updated(expected: int) -> RowsCheck:
    def check(rows: list[tuple[object, ...]]) -> None:
        if len(rows) != expected:
            raise RuntimeError("inventory items changed while locked: refusing to post the batch")

    return check


_TOTALS_UPDATE = (
    update(ITEM)
    .where(
        ITEM.c.facility_id == bindparam("f"),
        ITEM.c.inventory_item_id == bindparam("i"),
        ITEM.c.last_detail_seq == bindparam("old_seq"),
    )
    .values(
        quantity_on_hand_total=ITEM.c.quantity_on_hand_total + bindparam("qoh", type_=Fixed6()),
        available_to_promise_total=ITEM.c.available_to_promise_total + bindparam("atp", type_=Fixed6()),
        accounting_quantity_total=ITEM.c.accounting_quantity_total + bindparam("acc", type_=Fixed6()),
        last_detail_seq=bindparam("new_seq"),
    )
)


def _insert_details(
    session: Session, details: list[dict[str, object]], writes: WriteBehind | None = None
) -> None:
    """The detail rows (all with the same keys): on PostgreSQL one INSERT from arrays
    (core.dialects.from_arrays), sent through `writes` when given; on SQLite one executemany."""
    if binds_arrays(session):
        rows, params = from_arrays(session, DETAIL, details)
        insert_rows = Statement(f"INSERT INTO inventory_item_detail ({', '.join(details[0])}) {rows}", params)
        if writes is None:
            run(session, insert_rows)
        else:
            writes.send(insert_rows)
    else:
        execute_many(session, insert(DETAIL), details)


def _chunks(rows: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
