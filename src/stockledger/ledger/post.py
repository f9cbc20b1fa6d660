"""THE write path: the only code that changes an inventory item's totals.

Each posting is one guarded UPDATE … RETURNING on the item (totals and the detail
sequence move together, atomically, in the database) followed by the INSERT of its
InventoryItemDetail row, in the caller's transaction. Nothing else writes totals, so
for every item: totals == sum of its detail diffs.

Four ways in, the same two rows each: `post` (one posting), `post_batch` (set-based),
`post_locked` (an item the caller locked: one round trip with the caller's other writes) and
`post_locked_batch` (items the caller locked: two statements from arrays, PostgreSQL); and
ledger/sole_item.py (the item chosen and posted to by one statement, PostgreSQL).
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import NoReturn, TypeVar, cast

from sqlalchemy import Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import ReturningUpdate

from stockledger.core.actor import acting_user
from stockledger.core.db import (
    RowsCheck,
    Statement,
    WriteBehind,
    array_literal,
    bound,
    fetched,
    from_arrays,
    is_postgres,
    one_of,
    run,
    run_together,
)
from stockledger.core.errors import InsufficientStock, NegativeStock, NotFound
from stockledger.core.fixed import ZERO, Fixed6, to_micros
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_facility
from stockledger.ledger.models import InventoryItem, InventoryItemDetail

ITEM = cast(Table, InventoryItem.__table__)
DETAIL = cast(Table, InventoryItemDetail.__table__)
TOTALS = ("quantity_on_hand_total", "available_to_promise_total", "accounting_quantity_total")


@dataclass(frozen=True, slots=True)
class Links:
    """What caused a change (SPEC §3): written on the detail row as is."""

    order_id: str | None = None
    order_item_seq_id: str | None = None
    ship_group_seq_id: str | None = None
    shipment_id: str | None = None
    shipment_item_seq_id: str | None = None
    receipt_id: str | None = None
    physical_inventory_id: str | None = None
    return_id: str | None = None
    return_item_seq_id: str | None = None
    item_issuance_id: str | None = None
    inventory_reset_id: str | None = None
    change_by_user_login_id: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    """One change of one item. `require_atp` refuses it if ATP would go below zero, `require_qoh`
    (post and post_batch) if QOH would: checked in the same guarded UPDATE, not read before it."""

    facility_id: str
    inventory_item_id: str
    reason_enum_id: str
    quantity_on_hand_diff: Decimal = ZERO
    available_to_promise_diff: Decimal = ZERO
    accounting_quantity_diff: Decimal | None = None  # None: follows QOH, as in OFBiz
    effective_date: datetime | None = None
    links: Links = field(default_factory=Links)
    require_atp: bool = False
    detail_seq_id: str | None = None  # given by an imported document; else generated
    require_qoh: bool = False

    @property
    def accounting_diff(self) -> Decimal:
        if self.accounting_quantity_diff is None:
            return self.quantity_on_hand_diff
        return self.accounting_quantity_diff


@dataclass(frozen=True, slots=True)
class Posted:
    """The detail row written and the item's totals right after it."""

    facility_id: str
    inventory_item_id: str
    inventory_item_detail_seq_id: str
    quantity_on_hand_total: Decimal
    available_to_promise_total: Decimal
    accounting_quantity_total: Decimal


SEQ_DIGITS = 5  # a detail's seq id: its number, zero-padded to five digits, more when needed


def format_seq(number: int) -> str:
    """The detail seq id of detail number `number` (`format_seq_sql`: the same, in SQL)."""
    return f"{number:0{SEQ_DIGITS}d}"


def format_seq_sql(number: str) -> str:
    """`format_seq` as a PostgreSQL expression of the integer expression `number`."""
    return (
        f"CASE WHEN {number} < {10**SEQ_DIGITS} THEN lpad({number}::text, {SEQ_DIGITS}, '0') "
        f"ELSE {number}::text END"
    )


def post(session: Session, posting: Posting) -> Posted:
    """Apply one posting: new totals and their detail row, in the session's transaction."""
    check_facility(session, posting.facility_id)
    row = session.execute(_guarded_update(posting)).one_or_none()
    if row is None:
        _raise_refusal(session, posting)
    seq_num, qoh, atp, acc = row
    seq_id = posting.detail_seq_id or format_seq(seq_num)
    values = detail_values(posting, seq_num, seq_id, user=acting_user(session))
    session.execute(insert(DETAIL).values(values))
    _expire_loaded_item(session, posting)
    return Posted(posting.facility_id, posting.inventory_item_id, seq_id, qoh, atp, acc)


def post_locked(
    session: Session, posting: Posting, last_detail_seq: int, *also: Statement, now: datetime | None = None
) -> Posted:
    """`post` for an item this transaction has locked and read (`last_detail_seq` as read under
    the lock): the same rows, written in one round trip together with the caller's other writes
    (`also`, core.db.run_together). Refused → the caller's transaction must roll back, since on
    PostgreSQL `also` ran in the same statement. `now`: the detail row's stamp, when the caller
    built `also` (its event) after taking it, so the row is not later than its event."""
    check_facility(session, posting.facility_id)
    given = _numeric_seq(posting.detail_seq_id)
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
    guarded = posting.require_atp and posting.available_to_promise_diff < 0
    update = Statement(
        _LOCKED_UPDATE_GUARDED if guarded else _LOCKED_UPDATE, {**change, "last": last_detail_seq}
    )
    values = detail_values(posting, seq_num, seq_id, now, user=acting_user(session))
    detail = Statement(_DETAIL_INSERT, bound(session, DETAIL, values))
    rows = run_together(session, [update, detail, *also])
    if not rows:
        _raise_refusal(session, posting)
    qoh, atp, acc = fetched(session.get_bind().dialect, _TOTAL_COLUMNS, rows[0])
    _expire_loaded_item(session, posting)
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
_LOCKED_UPDATE = _LOCKED_SET + _RETURNING
_LOCKED_UPDATE_GUARDED = (
    f"{_LOCKED_SET} AND available_to_promise_total + :available_to_promise_total >= 0{_RETURNING}"
)
DETAIL_COLUMNS = (
    "facility_id",
    "inventory_item_id",
    "inventory_item_detail_seq_id",
    "seq_num",
    "effective_date",
    "quantity_on_hand_diff",
    "available_to_promise_diff",
    "accounting_quantity_diff",
    "reason_enum_id",
    "created_stamp",
    *(f.name for f in fields(Links)),
)
_DETAIL_INSERT = (
    f"INSERT INTO inventory_item_detail ({', '.join(DETAIL_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in DETAIL_COLUMNS)})"
)


def _guarded_update(p: Posting) -> ReturningUpdate[tuple[int, Decimal, Decimal, Decimal]]:
    next_seq = ITEM.c.last_detail_seq + 1
    given = _numeric_seq(p.detail_seq_id)
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
    if p.require_atp and p.available_to_promise_diff < 0:
        stmt = stmt.where(ITEM.c.available_to_promise_total + p.available_to_promise_diff >= 0)
    if p.require_qoh and p.quantity_on_hand_diff < 0:
        stmt = stmt.where(ITEM.c.quantity_on_hand_total + p.quantity_on_hand_diff >= 0)
    return stmt


def _numeric_seq(seq_id: str | None) -> int | None:
    return int(seq_id) if seq_id is not None and seq_id.isdigit() else None


_LINK_NAMES = tuple(f.name for f in fields(Links))  # dataclasses.fields() per call cost ≈ 5 µs


def detail_values(
    p: Posting, seq_num: int, seq_id: str, now: datetime | None = None, user: str | None = None
) -> dict[str, object]:
    """The detail row of a posting; `user` (the session's, core.actor) unless its links name one."""
    now = now or utcnow()
    links = {name: getattr(p.links, name) for name in _LINK_NAMES}
    if links["change_by_user_login_id"] is None:
        links["change_by_user_login_id"] = user
    return {
        "facility_id": p.facility_id,
        "inventory_item_id": p.inventory_item_id,
        "inventory_item_detail_seq_id": seq_id,
        "seq_num": seq_num,
        "effective_date": p.effective_date or now,
        "quantity_on_hand_diff": p.quantity_on_hand_diff,
        "available_to_promise_diff": p.available_to_promise_diff,
        "accounting_quantity_diff": p.accounting_diff,
        "reason_enum_id": p.reason_enum_id,
        "created_stamp": now,
        **links,
    }


def _raise_refusal(session: Session, p: Posting) -> NoReturn:
    found = session.execute(
        select(ITEM.c.available_to_promise_total, ITEM.c.quantity_on_hand_total).where(
            ITEM.c.facility_id == p.facility_id, ITEM.c.inventory_item_id == p.inventory_item_id
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"Inventory item {p.inventory_item_id} not found in facility {p.facility_id}")
    atp, qoh = found
    if p.require_qoh and qoh + p.quantity_on_hand_diff < 0:
        raise NegativeStock(
            f"Inventory item {p.inventory_item_id} has {qoh} on hand; {p.quantity_on_hand_diff} "
            "would take it below zero",
            inventoryItemId=p.inventory_item_id,
            quantityOnHandTotal=qoh,
            quantityOnHandDiff=p.quantity_on_hand_diff,
        )
    raise InsufficientStock(
        f"Inventory item {p.inventory_item_id} has {atp} available to promise; "
        f"{-p.available_to_promise_diff} requested",
        inventoryItemId=p.inventory_item_id,
        available=atp,
        requested=-p.available_to_promise_diff,
    )


def _expire_loaded_item(session: Session, p: Posting) -> None:
    """An InventoryItem already loaded in this session now has stale totals."""
    key = identity_key(InventoryItem, (p.facility_id, p.inventory_item_id))
    loaded = session.identity_map.get(key)
    if loaded is not None:
        session.expire(loaded, [*TOTALS, "last_detail_seq"])


# ---- batches: the same rows as `post` for each posting, written set-based ----

# Bind parameters per statement stay under SQLite's limit (32,766; PostgreSQL allows 65,535).
MAX_BIND_PARAMS = 30_000
_T = TypeVar("_T")
# An item as read under its row lock: QOH, ATP, accounting quantity, last_detail_seq
LockedItem = tuple[Decimal, Decimal, Decimal, int]


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
    statement each from arrays (per facility for the totals), on SQLite two executemany.
    Like `post`, a refused posting raises after the postings before it are written.

    With `writes` (PostgreSQL), the two statements are sent and not waited for: the caller
    settles them before it reads again or commits (core.db.WriteBehind).
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
        _expire_loaded_items(session, {(s.posting.facility_id, s.posting.inventory_item_id) for s in planned})
    if refused is not None:
        _raise_refusal(session, refused)
    return [s.posted for s in planned]


def post_locked_batch(session: Session, postings: Sequence[Posting], locked: Mapping[str, int]) -> None:
    """`post_batch` for items this transaction has locked and read, all in one facility
    (`locked`: item id → last_detail_seq as read under the lock): the same rows and totals,
    written set-based on PostgreSQL in two statements whatever their number: the totals'
    UPDATE from arrays, checked against the sequence read and guarded as `post_batch` guards
    each posting in turn (an item's ATP must cover the deepest running shortfall of its
    guarded postings), then the detail rows' INSERT from arrays. Refused → InsufficientStock
    (or NotFound) before any detail row is written; the caller's transaction rolls back.
    SQLite: `post_batch` (no network to save)."""
    if not postings:
        return
    if not is_postgres(session):
        post_batch(session, postings)
        return
    facilities = {p.facility_id for p in postings}
    if len(facilities) != 1:
        raise ValueError("post_locked_batch posts to one facility")
    (facility_id,) = facilities
    check_facility(session, facility_id)
    last = dict(locked)
    sums: dict[str, list[Decimal]] = {}
    need: dict[str, Decimal] = {}  # ATP an item must hold for every guarded posting to pass
    details = []
    now, user = utcnow(), acting_user(session)
    for p in postings:
        item = p.inventory_item_id
        given = _numeric_seq(p.detail_seq_id)
        seq_num = last[item] + 1 if given is None else max(last[item] + 1, given)
        last[item] = seq_num
        # one instant for the batch: one parameter, not an array (core.db.from_arrays)
        details.append(detail_values(p, seq_num, p.detail_seq_id or format_seq(seq_num), now, user))
        acc = sums.setdefault(item, [ZERO, ZERO, ZERO])
        acc[0] += p.quantity_on_hand_diff
        acc[1] += p.available_to_promise_diff
        acc[2] += p.accounting_diff
        if p.require_atp and p.available_to_promise_diff < 0:  # post's guard: ATP + running sum >= 0
            need[item] = max(need[item], -acc[1]) if item in need else -acc[1]
    items = sorted(sums)  # lock order, as everywhere
    update = _array_update(
        facility_id,
        items,
        [sums[i] for i in items],
        [locked[i] for i in items],
        [last[i] for i in items],
        [None if i not in need else to_micros(need[i]) for i in items],
    )
    updated = {row[0] for row in run(session, update)}
    if len(updated) != len(items):
        refused = [p for p in postings if p.inventory_item_id not in updated and p.inventory_item_id in need]
        if refused:
            _raise_refusal(session, refused[0])
        raise RuntimeError("inventory items changed while locked: refusing to post the batch")
    _insert_details(session, details)
    _expire_loaded_items(session, {(facility_id, i) for i in items})


def _array_update(
    facility_id: str,
    items: list[str],
    sums: list[list[Decimal]],
    old: list[int],
    new: list[int],
    need: list[int | None],
) -> Statement:
    """The totals of `items` (one facility, id order) moved by `sums`, each checked against its
    `old` detail sequence and given its `new` one; `need`: the ATP an item must hold (micro-units),
    None for no guard. Returns the ids updated."""
    params: dict[str, object] = {
        "f": facility_id,
        "ids": array_literal(items),
        "old": array_literal(old),
        "new": array_literal(new),
        "need": array_literal(need),
    }
    for n, total in enumerate(TOTALS):
        params[f"d_{total}"] = array_literal([to_micros(acc[n]) for acc in sums])
    return Statement(_ARRAY_UPDATE, params)


_ARRAY_UPDATE = (
    "UPDATE inventory_item AS i SET "
    + ", ".join(f"{t} = i.{t} + d.{t}" for t in TOTALS)
    + ", last_detail_seq = d.new FROM unnest(:ids::text[], "
    + ", ".join(f":d_{t}::bigint[]" for t in TOTALS)
    + ", :old::int[], :new::int[], :need::bigint[]) AS d (id, "
    + ", ".join(TOTALS)
    + ", old, new, need) WHERE i.facility_id = :f AND i.inventory_item_id = d.id "
    "AND i.last_detail_seq = d.old "
    "AND (d.need IS NULL OR i.available_to_promise_total >= d.need) "
    "RETURNING i.inventory_item_id"
)


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
    if p.require_atp and p.available_to_promise_diff < 0 and atp + p.available_to_promise_diff < 0:
        return None
    if p.require_qoh and p.quantity_on_hand_diff < 0 and qoh + p.quantity_on_hand_diff < 0:
        return None
    given = _numeric_seq(p.detail_seq_id)
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

    PostgreSQL: one UPDATE from arrays per facility (_array_update; a few parameters however
    many items). SQLite: one executemany, which sqlite3 loops in C.
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
    if is_postgres(session):
        _write_totals_from_arrays(session, sums, start, last, writes)
        return
    rows = [
        {"f": f, "i": i, "qoh": q, "atp": a, "acc": c, "old_seq": start[(f, i)][3], "new_seq": last[(f, i)]}
        for (f, i), (q, a, c) in sorted(sums.items())
    ]
    result = session.execute(_TOTALS_UPDATE, rows)
    if result.rowcount != len(rows):  # type: ignore[attr-defined]
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
        statement = _array_update(
            facility_id,
            items,
            [sums[k] for k in keys],
            [start[k][3] for k in keys],
            [last[k] for k in keys],
            [None] * len(items),
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
    (core.db.from_arrays), sent through `writes` when given; on SQLite one executemany."""
    if is_postgres(session):
        rows, params = from_arrays(session, DETAIL, details)
        insert_rows = Statement(f"INSERT INTO inventory_item_detail ({', '.join(details[0])}) {rows}", params)
        if writes is None:
            run(session, insert_rows)
        else:
            writes.send(insert_rows)
    else:
        session.execute(insert(DETAIL), details)


def _chunks(rows: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _expire_loaded_items(session: Session, keys: set[tuple[str, str]]) -> None:
    if not session.identity_map:  # a bulk caller loads no item: skip building 10,000 identity keys
        return
    for key in keys:
        loaded = session.identity_map.get(identity_key(InventoryItem, key))
        if loaded is not None:
            session.expire(loaded, [*TOTALS, "last_detail_seq"])
