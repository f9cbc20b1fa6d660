"""The ledger's set-based strategy on SQLite when each item is posted once (every changed line
of a reset naming its own product: the usual case): the postings are numbered as they are read,
each on its item's totals and detail sequence (0 for an item not there yet: `known` 0), the new
items created and the others moved from those rows, with no sums and no staging table of their
own (five passes over the postings fewer than ledger/staged_sqlite.py's general path, which an
item posted twice takes: found as the posted rows' unique index is built).

SQL in SQLite's dialect (printf, UPDATE … FROM of an aliased table, temporary tables that outlive
the transaction): reached only where core.dialects.stages_set_based and serialises_writers say
the database can (ledger/staged_sqlite.py, from ledger/post.py).
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockledger.core.errors import NotFound
from stockledger.core.transactions import savepoint
from stockledger.ledger.models import InventoryItemDetail
from stockledger.ledger.postings import SEQ_DIGITS
from stockledger.ledger.rules_check import INV_AVAILABLE
from stockledger.ledger.staged_pg import STAGED_POSTED

_NOW = cast(Table, InventoryItemDetail.__table__).c.created_stamp.type  # instants as the models store them

_ONCE_COLUMNS = (
    "ord",
    "facility_id",
    "inventory_item_id",
    "seq_id",
    "seq",
    "qoh_diff",
    "atp_diff",
    "acc_diff",
    "qoh_total",
    "atp_total",
    "acc_total",
    "known",
)
_CREATE_POSTED_ONCE = (
    f"CREATE TEMP TABLE {STAGED_POSTED} (ord INTEGER PRIMARY KEY, facility_id TEXT NOT NULL, "
    "inventory_item_id TEXT NOT NULL, seq_id TEXT, seq INTEGER, qoh_diff INTEGER NOT NULL, "
    "atp_diff INTEGER NOT NULL, acc_diff INTEGER NOT NULL, qoh_total INTEGER, atp_total INTEGER, "
    "acc_total INTEGER, known INTEGER)"
)
# Unique: its build finds an item posted twice (a refusal, undone alone), with no pass of its own.
_POSTED_BY_ITEM = (
    f"CREATE UNIQUE INDEX temp.ledger_posted_item ON {STAGED_POSTED} (facility_id, inventory_item_id)"
)
_ITEM = table(
    "inventory_item",
    *(column(c) for c in ("facility_id", "inventory_item_id", "last_detail_seq")),
    *(
        column(c)
        for c in ("quantity_on_hand_total", "available_to_promise_total", "accounting_quantity_total")
    ),
)
_NOT_KNOWN = f"SELECT count(*) FROM {STAGED_POSTED} WHERE NOT known"
_NEW_ITEM_COLUMNS = (
    "facility_id",
    "inventory_item_id",
    "inventory_item_type_id",
    "product_id",
    "status_id",
    "datetime_received",
    "quantity_on_hand_total",
    "available_to_promise_total",
    "accounting_quantity_total",
    "last_detail_seq",
    "created_stamp",
)
_POSTED_ONCE = table(STAGED_POSTED, *(column(c) for c in _ONCE_COLUMNS))
_MOVE_ONCE = f"""
UPDATE inventory_item AS i
SET quantity_on_hand_total = s.qoh_total, available_to_promise_total = s.atp_total,
    accounting_quantity_total = s.acc_total, last_detail_seq = s.seq
FROM {STAGED_POSTED} s
WHERE s.known AND i.facility_id = s.facility_id AND i.inventory_item_id = s.inventory_item_id
"""


def _created_once(new_items: Select[Any]) -> Insert:
    """The new items (the caller's SELECT, read as it is: no table of them) inserted with the
    totals and detail sequence of their one posting; an item posted nothing is not created."""
    c = new_items.subquery("c")
    s = _POSTED_ONCE.alias("s")
    now = bindparam("now", type_=_NOW)
    created = (
        select(
            c.c.facility_id,
            c.c.inventory_item_id,
            literal("NON_SERIAL_INV_ITEM"),
            c.c.product_id,
            literal(INV_AVAILABLE),
            now,
            s.c.qoh_total,
            s.c.atp_total,
            s.c.acc_total,
            s.c.seq,
            now,
        )
        .select_from(
            c.join(
                s, and_(s.c.facility_id == c.c.facility_id, s.c.inventory_item_id == c.c.inventory_item_id)
            )
        )
        .order_by(c.c.facility_id, c.c.inventory_item_id)
    )
    target = table("inventory_item", *(column(name) for name in _NEW_ITEM_COLUMNS))
    return insert(target).from_select(list(_NEW_ITEM_COLUMNS), created)


def _numbered_once(postings: Select[Any]) -> Select[Any]:
    """`postings`, each numbered on its item's detail sequence and totals as it is read."""
    p = postings.subquery("p")
    i = _ITEM.alias("i")
    seq = func.coalesce(i.c.last_detail_seq, 0) + 1
    totals = [
        func.coalesce(i.c[total], 0) + p.c[diff]
        for total, diff in (
            ("quantity_on_hand_total", "qoh_diff"),
            ("available_to_promise_total", "atp_diff"),
            ("accounting_quantity_total", "acc_diff"),
        )
    ]
    joined = p.outerjoin(
        i, and_(i.c.facility_id == p.c.facility_id, i.c.inventory_item_id == p.c.inventory_item_id)
    )
    return select(
        p.c.ord,
        p.c.facility_id,
        p.c.inventory_item_id,
        func.printf(literal(f"%0{SEQ_DIGITS}d"), seq),
        seq,
        p.c.qoh_diff,
        p.c.atp_diff,
        p.c.acc_diff,
        *totals,
        i.c.inventory_item_id.is_not(None),
    ).select_from(joined)


def number_once(session: Session, postings: Select[Any]) -> tuple[int, bool]:
    """The postings into STAGED_POSTED (created here), numbered as if each item were posted once;
    how many, and whether each item was (its rows' unique index built: else not, and the caller
    takes the general path)."""
    run = session.connection().execute
    run(text(_CREATE_POSTED_ONCE))
    target = table(STAGED_POSTED, *(column(c) for c in _ONCE_COLUMNS))
    numbered = insert(target).from_select(list(_ONCE_COLUMNS), _numbered_once(postings))
    rows = int(run(numbered.execution_options(preserve_rowcount=True)).rowcount)
    try:
        with savepoint(session):
            run(text(_POSTED_BY_ITEM))
    except IntegrityError:  # an item posted twice
        return rows, False
    return rows, True


def write_once(session: Session, new_items: Select[Any] | None, now: datetime) -> None:
    """The new items created and the others moved from STAGED_POSTED, each item posted once."""
    run = session.connection().execute
    new = int(run(text(_NOT_KNOWN)).scalar_one())
    created = 0
    if new_items is not None:
        inserted = _created_once(new_items).execution_options(preserve_rowcount=True)
        created = int(run(inserted, {"now": now}).rowcount)
    if new != created:  # a posting of an item that neither exists nor is staged as new
        raise NotFound(f"{new - created} staged postings name no inventory item")
    run(text(_MOVE_ONCE))
