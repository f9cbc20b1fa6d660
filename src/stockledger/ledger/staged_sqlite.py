"""The ledger's set-based strategy on SQLite: a StagedPostings (ledger/staged_pg.py says what
the caller hands over and what it gets back) posted by the database in a few statements,
however many postings there are.

The same rows as PostgreSQL's strategy, in the caller's transaction: the ledger fills its own
NOT NULL temporary tables from the caller's typed SELECTs, sums each item's postings and reads
its totals and `last_detail_seq` before them (SQLite serialises writers, core.dialects
`serialises_writers`: what this transaction read cannot change before it writes, so no row is
locked), inserts a new item with its postings' totals, updates the others once each, numbers
the postings of an item in `ord` order and writes one InventoryItemDetail row per posting. So
for every item: totals == sum of its detail diffs. What was posted is left in the temporary
table `StagedPosted.rows` names (the columns of PostgreSQL's, and acc_total), for the caller's
events; it lives on the connection, so the next post drops it first (the reset drops it when
done). The guards the postings carry are applied as on PostgreSQL; a product whose totals no
longer add up in 64 bits is refused (core.sums: QuantityOverflow), and the caller's transaction
rolls back. When each item is posted once (a reset's), ledger/staged_once_sqlite.py numbers and
writes them with no sums; this module's general path takes an item posted twice.

SQL in SQLite's dialect (printf, UPDATE … FROM of an aliased table, temporary tables that outlive
the transaction): reached only where core.dialects.stages_set_based and serialises_writers say
the database can (ledger/post.py).
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    column,
    insert,
    table,
    text,
)
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.errors import NotFound
from stockledger.core.scope import check_facility, facilities_in_scope
from stockledger.core.sums import overflow_refused, require_summable_selected
from stockledger.ledger.models import InventoryItemDetail
from stockledger.ledger.postings import SEQ_DIGITS, Links
from stockledger.ledger.rules_check import INV_AVAILABLE
from stockledger.ledger.staged_once_sqlite import number_once, write_once
from stockledger.ledger.staged_pg import (
    STAGED_ITEMS,
    STAGED_POSTED,
    STAGED_POSTINGS,
    StagedPosted,
    StagedPostings,
    check_staged_rows,
    refuse_unguarded,
)

STAGED_SUMS = "ledger_staged_sum"
_NOW = cast(Table, InventoryItemDetail.__table__).c.created_stamp.type  # instants as the models store them
_LINK_COLUMNS = tuple(Links.__dataclass_fields__)

_POSTINGS = {
    "ord": "INTEGER",
    "facility_id": "TEXT",
    "inventory_item_id": "TEXT",
    "qoh_diff": "INTEGER",
    "atp_diff": "INTEGER",
    "acc_diff": "INTEGER",
}
_ITEMS = {"facility_id": "TEXT", "inventory_item_id": "TEXT", "product_id": "TEXT"}
_KEYS = {
    STAGED_POSTINGS: "PRIMARY KEY (facility_id, inventory_item_id, ord)",
    STAGED_ITEMS: "PRIMARY KEY (facility_id, inventory_item_id)",
}

# Each item's postings summed, with its totals and detail sequence before them (0 for a new item);
# `known`: the item exists or is staged as new.
_SUM = f"""
INSERT INTO {STAGED_SUMS}
SELECT p.facility_id, p.inventory_item_id, sum(p.qoh_diff), sum(p.atp_diff), sum(p.acc_diff), count(*),
       c.inventory_item_id IS NOT NULL, coalesce(i.last_detail_seq, 0),
       coalesce(i.quantity_on_hand_total, 0), coalesce(i.available_to_promise_total, 0),
       coalesce(i.accounting_quantity_total, 0),
       c.inventory_item_id IS NOT NULL OR i.inventory_item_id IS NOT NULL
FROM {STAGED_POSTINGS} p
LEFT JOIN {STAGED_ITEMS} c ON c.facility_id = p.facility_id AND c.inventory_item_id = p.inventory_item_id
LEFT JOIN inventory_item i ON i.facility_id = p.facility_id AND i.inventory_item_id = p.inventory_item_id
GROUP BY p.facility_id, p.inventory_item_id
"""
_CREATE_SUMS = (
    f"CREATE TEMP TABLE {STAGED_SUMS} (facility_id TEXT, inventory_item_id TEXT, qoh INTEGER, atp INTEGER, "
    "acc INTEGER, n INTEGER, fresh INTEGER, seq0 INTEGER, qoh0 INTEGER, atp0 INTEGER, acc0 INTEGER, "
    "known INTEGER, PRIMARY KEY (facility_id, inventory_item_id)) WITHOUT ROWID"
)
_UNKNOWN = f"SELECT coalesce(sum(n), 0) FROM {STAGED_SUMS} WHERE NOT known"
_CREATE = f"""
INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id, status_id,
    datetime_received, quantity_on_hand_total, available_to_promise_total, accounting_quantity_total,
    last_detail_seq, created_stamp)
SELECT c.facility_id, c.inventory_item_id, 'NON_SERIAL_INV_ITEM', c.product_id, '{INV_AVAILABLE}', :now,
       s.qoh, s.atp, s.acc, s.n, :now
FROM {STAGED_ITEMS} c
JOIN {STAGED_SUMS} s ON s.facility_id = c.facility_id AND s.inventory_item_id = c.inventory_item_id
ORDER BY c.facility_id, c.inventory_item_id
"""
_MOVE = f"""
UPDATE inventory_item AS i
SET quantity_on_hand_total = i.quantity_on_hand_total + s.qoh,
    available_to_promise_total = i.available_to_promise_total + s.atp,
    accounting_quantity_total = i.accounting_quantity_total + s.acc,
    last_detail_seq = i.last_detail_seq + s.n
FROM {STAGED_SUMS} s
WHERE s.fresh = 0 AND i.facility_id = s.facility_id AND i.inventory_item_id = s.inventory_item_id
"""
_CREATE_POSTED = (
    f"CREATE TEMP TABLE {STAGED_POSTED} (ord INTEGER PRIMARY KEY, facility_id TEXT, inventory_item_id TEXT, "
    "seq_id TEXT, seq INTEGER, qoh_diff INTEGER, atp_diff INTEGER, acc_diff INTEGER, qoh_total INTEGER, "
    "atp_total INTEGER, acc_total INTEGER)"
)
# The postings numbered: an item posted once (a reset's every item) by a plain join; an item
# posted several times by a window in `ord` order (its running totals).
_NUMBER_ONE = f"""
INSERT INTO {STAGED_POSTED}
SELECT p.ord, p.facility_id, p.inventory_item_id, printf('%0{SEQ_DIGITS}d', s.seq0 + 1), s.seq0 + 1,
       p.qoh_diff, p.atp_diff, p.acc_diff, s.qoh0 + p.qoh_diff, s.atp0 + p.atp_diff, s.acc0 + p.acc_diff
FROM {STAGED_SUMS} s
CROSS JOIN {STAGED_POSTINGS} p ON p.facility_id = s.facility_id AND p.inventory_item_id = s.inventory_item_id
WHERE s.n = 1
"""
_NUMBER_MANY = f"""
INSERT INTO {STAGED_POSTED}
SELECT ord, facility_id, inventory_item_id, printf('%0{SEQ_DIGITS}d', seq), seq, qoh_diff, atp_diff, acc_diff,
       qoh_total, atp_total, acc_total
FROM (
    SELECT p.ord, p.facility_id, p.inventory_item_id, p.qoh_diff, p.atp_diff, p.acc_diff,
           s.seq0 + row_number() OVER w AS seq,
           s.qoh0 + sum(p.qoh_diff) OVER w AS qoh_total,
           s.atp0 + sum(p.atp_diff) OVER w AS atp_total,
           s.acc0 + sum(p.acc_diff) OVER w AS acc_total
    FROM {STAGED_SUMS} s
    CROSS JOIN {STAGED_POSTINGS} p
      ON p.facility_id = s.facility_id AND p.inventory_item_id = s.inventory_item_id
    WHERE s.n > 1
    WINDOW w AS (PARTITION BY p.facility_id, p.inventory_item_id ORDER BY p.ord
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
"""
# The items whose totals grew (moved away from zero): their products must still add up
# (ledger/post.py's rule for any posting; a write that only shrinks totals is let through).
_GREW = " OR ".join(
    f"({diff} <> 0 AND abs({total}) > abs({total} - {diff}))"
    for diff, total in (("qoh_diff", "qoh_total"), ("atp_diff", "atp_total"), ("acc_diff", "acc_total"))
)
GROWN = (
    f"SELECT facility_id, inventory_item_id FROM {STAGED_POSTED} WHERE {_GREW}"  # core.sums lists each once
)

_TO_GENERAL = (
    f"INSERT INTO {STAGED_POSTINGS} SELECT ord, facility_id, inventory_item_id, qoh_diff, atp_diff, acc_diff "
    f"FROM {STAGED_POSTED}"
)


def _detail_insert(order: str) -> str:
    """The detail rows of STAGED_POSTED, inserted in key `order` (the detail table's)."""
    links = ", ".join(_LINK_COLUMNS)
    values = ", ".join(f":{name}" for name in _LINK_COLUMNS)
    return (
        "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id, "
        "seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, "
        f"accounting_quantity_diff, reason_enum_id, created_stamp, {links}) "
        "SELECT facility_id, inventory_item_id, seq_id, seq, :effective_date, qoh_diff, atp_diff, acc_diff, "
        f":reason, :now, {values} FROM {STAGED_POSTED} ORDER BY {order}"
    )


# An item posted once has one row: its key is (facility, item), which the index of the posted
# rows by item gives in order, with no sort (100,000 rows: 0.03 s).
_DETAILS = {
    once: text(_detail_insert(order)).bindparams(
        bindparam("now", type_=_NOW), bindparam("effective_date", type_=_NOW)
    )
    for once, order in (
        (True, "facility_id, inventory_item_id"),
        (False, "facility_id, inventory_item_id, seq"),
    )
}


def post_staged_serialised(session: Session, staged: StagedPostings) -> StagedPosted:
    """Post `staged` (see above) in the session's transaction; what was posted (StagedPosted)."""
    run = session.connection().execute
    for name in (STAGED_POSTINGS, STAGED_ITEMS, STAGED_SUMS, STAGED_POSTED):
        run(text(f"DROP TABLE IF EXISTS temp.{name}"))  # a post before on this connection
    check_staged_rows(STAGED_POSTINGS, _POSTINGS, staged.postings, "INTEGER")
    check_staged_rows(STAGED_ITEMS, _ITEMS, staged.new_items, "INTEGER")
    staged_rows, once = _number_once(session, staged.postings)
    if facilities_in_scope(session) is not None:  # a scoped caller posts to its facilities only
        for (facility_id,) in run(text(f"SELECT DISTINCT facility_id FROM {STAGED_POSTED}")):
            check_facility(session, facility_id)
    now = staged.effective_date
    with overflow_refused():
        if once:
            write_once(session, staged.new_items, now)
        else:
            _fill(session, STAGED_ITEMS, _ITEMS, staged.new_items)
            _write_summed(session, now)
    refuse_unguarded(session, staged)
    values: dict[str, Any] = {name: getattr(staged.links, name) for name in _LINK_COLUMNS}
    if values["change_by_user_login_id"] is None:
        values["change_by_user_login_id"] = acting_user(session)
    details = _DETAILS[once]
    result = run(details, {**values, "effective_date": now, "reason": staged.reason_enum_id, "now": now})
    require_summable_selected(session, GROWN)
    for name in (STAGED_ITEMS, STAGED_POSTINGS, STAGED_SUMS):
        run(text(f"DROP TABLE IF EXISTS {name}"))  # done with (a temporary table outlives the transaction)
    return StagedPosted(staged_rows if result.rowcount < 0 else int(result.rowcount))


def _number_once(session: Session, postings: Select[Any]) -> tuple[int, bool]:
    """The postings into STAGED_POSTED, numbered as if each item were posted once
    (ledger/staged_once_sqlite.py); how many, and whether each item was. If one was not, they are
    moved to STAGED_POSTINGS for the general path and STAGED_POSTED is dropped."""
    rows, once = number_once(session, postings)
    if not once:
        run = session.connection().execute
        _fill(session, STAGED_POSTINGS, _POSTINGS, None)
        run(text(_TO_GENERAL))
        run(text(f"DROP TABLE {STAGED_POSTED}"))
    return rows, once


def _write_summed(session: Session, now: datetime) -> None:
    """The general path: each item's postings summed, the items created and moved once each, the
    postings numbered in `ord` order into STAGED_POSTED."""
    run = session.connection().execute
    run(text(_CREATE_SUMS))
    run(text(_SUM))
    unknown = int(run(text(_UNKNOWN)).scalar_one())
    if unknown:  # a posting of an item that neither exists nor is staged as new
        raise NotFound(f"{unknown} staged postings name no inventory item")
    run(text(_CREATE).bindparams(bindparam("now", type_=_NOW)), {"now": now})
    run(text(_MOVE))
    run(text(_CREATE_POSTED))
    run(text(_NUMBER_ONE))
    run(text(_NUMBER_MANY))


def _fill(session: Session, name: str, columns: dict[str, str], rows: Select[Any] | None) -> int:
    """The ledger's temporary table `name` (its own columns, NOT NULL), filled from `rows`, a
    SELECT of exactly those columns, in that order, integers where the table holds them; the
    number of rows."""
    check_staged_rows(name, columns, rows, "INTEGER")
    connection = session.connection()
    defined = ", ".join(f"{c} {kind} NOT NULL" for c, kind in columns.items())
    connection.execute(text(f"CREATE TEMP TABLE {name} ({defined}, {_KEYS[name]}) WITHOUT ROWID"))
    if rows is None:
        return 0
    target = table(name, *(column(c) for c in columns))
    filled = insert(target).from_select(list(columns), rows).execution_options(preserve_rowcount=True)
    return int(connection.execute(filled).rowcount)
