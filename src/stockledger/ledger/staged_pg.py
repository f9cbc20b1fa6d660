"""The ledger's set-based strategy (PostgreSQL): postings a bulk caller computed in the
database, posted by the database in two statements, however many there are.

The caller (the ERP reset) hands `post` (ledger/post.py, the one door) a `StagedPostings`: a
typed SELECT of its postings (ord, facility_id, inventory_item_id, qoh_diff, atp_diff,
acc_diff; the diffs in micro-units, core.fixed), a typed SELECT of the items that do not exist
yet, each with postings (a findOrCreate's new facility items: facility_id, inventory_item_id,
product_id), the reason and links of every detail row, and the guards the postings carry, as
any posting does (`require_atp`, `require_qoh`). The ledger checks the SELECTs' columns, fills
its own temporary tables STAGED_POSTINGS and STAGED_ITEMS from them (NOT NULL columns of its
own types) and writes, in the caller's transaction:

  * one UPDATE of each item's totals (all its postings summed) and of its `last_detail_seq`, in
    the items' key order, returning the totals after them (a new item: inserted with its
    postings' totals, available and non-serialised, not inserted at zero and updated, which
    would write each row twice and check its foreign keys twice);
  * one InventoryItemDetail row per posting (several postings on one item: consecutive seq
    numbers in `ord` order, as `post` would give them one after the other).

So the ledger rule holds as for `post`: for every item, totals == sum of its detail diffs.
What was posted is left, until the transaction ends, in a temporary table the result names
(`StagedPosted.rows`: ord, facility_id, inventory_item_id, seq_id, qoh_diff, atp_diff,
qoh_total, atp_total, the item's totals right after the posting), for the caller's events.
Guarded postings (`require_atp`, `require_qoh`) are refused as `post` refuses them, on the
running totals in `ord` order: the first posting that takes its item's ATP (QOH) below zero
raises InsufficientStock (NegativeStock), and the caller's transaction rolls back. An ERP
reset's carry no guard: SPEC §4 sets its totals, ATP below zero included (SECURITY.md).

SQL in PostgreSQL's dialect only (data-modifying CTEs, temporary tables dropped at commit):
reached only where core.dialects.stages_set_based says the database can (ledger/post.py).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, TableClause, Text, column, insert, table, text
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.errors import InsufficientStock, NegativeStock, NotFound
from stockledger.core.fixed import from_micros
from stockledger.core.scope import check_facility, facilities_in_scope
from stockledger.ledger.postings import Links
from stockledger.ledger.postings_pg import format_seq_sql
from stockledger.ledger.rules_check import INV_AVAILABLE

STAGED_POSTINGS = "ledger_staged_posting"
STAGED_ITEMS = "ledger_staged_item"
STAGED_POSTED = "ledger_staged_posted"

# The items' rows are updated in key order (`summed` sorted, the probe side of the join: the
# new row versions and their index entries written page after page, as an UPDATE … FROM in
# index order writes them; in the hash aggregate's order each went to another page: 3.1 s of
# CPU against 2.2 s for a 100,000-line reset, bench/RESULTS.md). The sort compares bytes
# (COLLATE "C"): the order is only locality here, the items being locked before (or new).
# The postings are summed over that sort (DISTINCT ON its keys, window sums: a plan the planner
# cannot turn into a hash aggregate, whose output in hash order then took 0.25 s to sort for
# 100,000 items against 0.03 s for postings that come, as a file's lines mostly do, in order).
# An item with one posting (most) takes its posted row straight from the UPDATE's RETURNING
# (or the INSERT's and its sums); only items with several postings are numbered by a window
# over their postings joined to their new totals.
_MOVE = f"""
WITH summed AS MATERIALIZED (
    SELECT DISTINCT ON (facility_id COLLATE "C", inventory_item_id COLLATE "C")
           facility_id, inventory_item_id, (sum(qoh_diff) OVER w)::bigint AS qoh,
           (sum(atp_diff) OVER w)::bigint AS atp, (sum(acc_diff) OVER w)::bigint AS acc, count(*) OVER w AS n,
           min(ord) OVER w AS ord
    FROM {STAGED_POSTINGS}
    WINDOW w AS (PARTITION BY facility_id COLLATE "C", inventory_item_id COLLATE "C")
    ORDER BY facility_id COLLATE "C", inventory_item_id COLLATE "C"
), created AS (
    INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id, status_id,
        datetime_received, quantity_on_hand_total, available_to_promise_total, accounting_quantity_total,
        last_detail_seq, created_stamp)
    SELECT c.facility_id, c.inventory_item_id, 'NON_SERIAL_INV_ITEM', c.product_id, '{INV_AVAILABLE}', :now,
           s.qoh, s.atp, s.acc, s.n, :now
    FROM {STAGED_ITEMS} c
    JOIN summed s ON s.facility_id = c.facility_id AND s.inventory_item_id = c.inventory_item_id
    ORDER BY c.facility_id, c.inventory_item_id
    RETURNING facility_id, inventory_item_id
), moved AS (
    UPDATE inventory_item i
    SET quantity_on_hand_total = i.quantity_on_hand_total + s.qoh,
        available_to_promise_total = i.available_to_promise_total + s.atp,
        accounting_quantity_total = i.accounting_quantity_total + s.acc,
        last_detail_seq = i.last_detail_seq + s.n
    FROM summed s
    WHERE i.facility_id = s.facility_id AND i.inventory_item_id = s.inventory_item_id
      AND NOT EXISTS (SELECT 1 FROM {STAGED_ITEMS} c
                      WHERE c.facility_id = s.facility_id AND c.inventory_item_id = s.inventory_item_id)
    RETURNING i.facility_id, i.inventory_item_id, s.n, s.ord, s.qoh, s.atp, s.acc, i.last_detail_seq AS seq,
              i.quantity_on_hand_total AS qoh_total, i.available_to_promise_total AS atp_total
), after AS (
    SELECT * FROM moved
    UNION ALL
    SELECT s.facility_id, s.inventory_item_id, s.n, s.ord, s.qoh, s.atp, s.acc, s.n, s.qoh, s.atp
    FROM created c
    JOIN summed s ON s.facility_id = c.facility_id AND s.inventory_item_id = c.inventory_item_id
), numbered AS (
    SELECT ord, facility_id, inventory_item_id, qoh AS qoh_diff, atp AS atp_diff, acc AS acc_diff, seq,
           qoh_total, atp_total
    FROM after WHERE n = 1
    UNION ALL
    SELECT p.ord, p.facility_id, p.inventory_item_id, p.qoh_diff, p.atp_diff, p.acc_diff,
           a.seq - a.n + row_number() OVER w AS seq,
           a.qoh_total - a.qoh + sum(p.qoh_diff) OVER w AS qoh_total,
           a.atp_total - a.atp + sum(p.atp_diff) OVER w AS atp_total
    FROM {STAGED_POSTINGS} p
    JOIN after a ON a.facility_id = p.facility_id AND a.inventory_item_id = p.inventory_item_id AND a.n > 1
    WINDOW w AS (PARTITION BY p.facility_id, p.inventory_item_id ORDER BY p.ord
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
INSERT INTO {STAGED_POSTED}
SELECT ord, facility_id, inventory_item_id, {format_seq_sql("seq")}, seq, qoh_diff, atp_diff, acc_diff,
       qoh_total, atp_total
FROM numbered
"""
_LINK_COLUMNS = tuple(Links.__dataclass_fields__)


def _detail_insert() -> str:
    links = ", ".join(_LINK_COLUMNS)
    values = ", ".join(f":{name}" for name in _LINK_COLUMNS)
    return (
        "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id, "
        "seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff, "
        "accounting_quantity_diff, "
        f"reason_enum_id, created_stamp, {links}) "
        "SELECT facility_id, inventory_item_id, seq_id, seq, :effective_date, qoh_diff, atp_diff, acc_diff, "
        f":reason, :now, {values} FROM {STAGED_POSTED} ORDER BY facility_id, inventory_item_id, seq"
    )


_DETAIL = _detail_insert()


_DROP_POSTED = f"DROP TABLE IF EXISTS {STAGED_POSTED}"
_CREATE_POSTED = (
    f"CREATE TEMP TABLE {STAGED_POSTED} (ord bigint, facility_id text, inventory_item_id text, "
    "seq_id text, seq integer, qoh_diff bigint, atp_diff bigint, acc_diff bigint, qoh_total bigint, "
    "atp_total bigint) ON COMMIT DROP"
)


# What post_staged posted, for its caller to read in the same transaction (StagedPosted.rows).
POSTED_ROWS = table(
    STAGED_POSTED,
    column("ord", BigInteger),
    column("facility_id", Text),
    column("inventory_item_id", Text),
    column("seq_id", Text),
    column("qoh_diff", BigInteger),
    column("atp_diff", BigInteger),
    column("qoh_total", BigInteger),
    column("atp_total", BigInteger),
)


@dataclass(frozen=True, slots=True)
class StagedPosted:
    """What `post` of a StagedPostings posted: `count` detail rows, one row each in `rows` (the
    contract for the caller: a temporary table, read in the same transaction, by its columns or,
    in SQL text, by `rows.name`; quantities in micro-units, the totals the item's right after)."""

    count: int
    rows: TableClause = POSTED_ROWS


@dataclass(frozen=True, slots=True)
class StagedPostings:
    """Postings computed in the database, handed to `post` as typed SELECTs (see above)."""

    postings: Select[Any]  # ord, facility_id, inventory_item_id, qoh_diff, atp_diff, acc_diff (micro-units)
    new_items: Select[Any] | None  # facility_id, inventory_item_id, product_id
    reason_enum_id: str
    links: Links
    effective_date: datetime  # naive UTC: the detail rows' effective date and stamp
    require_atp: bool = False
    require_qoh: bool = False


_POSTING_COLUMNS = {
    "ord": "bigint",
    "facility_id": "text",
    "inventory_item_id": "text",
    "qoh_diff": "bigint",
    "atp_diff": "bigint",
    "acc_diff": "bigint",
}
_ITEM_COLUMNS = {"facility_id": "text", "inventory_item_id": "text", "product_id": "text"}


def post_staged(session: Session, staged: StagedPostings) -> StagedPosted:
    """Post `staged` (see above) in the session's transaction; what was posted (StagedPosted).
    The user (core.actor) is recorded unless its links name one."""
    connection = session.connection()
    staged_rows = _fill(session, STAGED_POSTINGS, _POSTING_COLUMNS, staged.postings)
    if facilities_in_scope(session) is not None:  # a scoped caller posts to its facilities only
        for facility_id in connection.execute(text(f"SELECT DISTINCT facility_id FROM {STAGED_POSTINGS}")):
            check_facility(session, facility_id[0])
    _fill(session, STAGED_ITEMS, _ITEM_COLUMNS, staged.new_items)
    connection.execute(text(_DROP_POSTED))
    connection.execute(text(_CREATE_POSTED))
    now = staged.effective_date
    moved = connection.execute(text(_MOVE), {"now": now}).rowcount
    if moved != staged_rows:  # a posting of an item that neither exists nor is staged as new
        raise NotFound(f"{staged_rows - moved} staged postings name no inventory item")
    refuse_unguarded(session, staged)
    values = {name: getattr(staged.links, name) for name in _LINK_COLUMNS}
    if values["change_by_user_login_id"] is None:
        values["change_by_user_login_id"] = acting_user(session)
    result = connection.execute(
        text(_DETAIL), {**values, "effective_date": now, "reason": staged.reason_enum_id, "now": now}
    )
    for name in (STAGED_ITEMS, STAGED_POSTINGS):
        connection.execute(text(f"DROP TABLE {name}"))  # done with: their buffers go to the tables to come
    return StagedPosted(int(result.rowcount))


def check_staged_rows(name: str, columns: dict[str, str], rows: Select[Any] | None, integer: str) -> None:
    """TypeError unless `rows` (if any) selects exactly `columns`, in that order, integers where
    the ledger's table `name` holds the database's `integer` type."""
    if rows is None:
        return
    given = list(rows.selected_columns.keys())
    if given != list(columns):
        raise TypeError(f"staged rows for {name} select {given}, not {list(columns)}")
    for key, selected in zip(given, rows.selected_columns, strict=True):
        if columns[key] == integer and not isinstance(selected.type, Integer):
            raise TypeError(f"staged column {key} of {name} is {selected.type}, not an integer")


def _fill(session: Session, name: str, columns: dict[str, str], rows: Select[Any] | None) -> int:
    """The ledger's temporary table `name` (its own columns, NOT NULL), filled from `rows`, a
    SELECT of exactly those columns, in that order, integers where the table holds bigint; the
    number of rows."""
    check_staged_rows(name, columns, rows, "bigint")
    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
    defined = ", ".join(f"{column} {kind} NOT NULL" for column, kind in columns.items())
    connection.execute(text(f"CREATE TEMP TABLE {name} ({defined}) ON COMMIT DROP"))
    if rows is None:
        return 0
    target = table(name, *(column(c) for c in columns))
    filled = insert(target).from_select(list(columns), rows).execution_options(preserve_rowcount=True)
    return int(connection.execute(filled).rowcount)


_GUARDS = {
    "require_atp": "SELECT facility_id, inventory_item_id, atp_total - atp_diff, atp_diff "
    f"FROM {STAGED_POSTED} WHERE atp_diff < 0 AND atp_total < 0 ORDER BY ord LIMIT 1",
    "require_qoh": "SELECT facility_id, inventory_item_id, qoh_total - qoh_diff, qoh_diff "
    f"FROM {STAGED_POSTED} WHERE qoh_diff < 0 AND qoh_total < 0 ORDER BY ord LIMIT 1",
}


def refuse_unguarded(session: Session, staged: StagedPostings) -> None:
    """The first guarded posting (in `ord` order) its item's running total does not cover, as
    `post` refuses it; the caller's transaction rolls back."""
    for guard, query in _GUARDS.items():
        if not getattr(staged, guard):
            continue
        found = session.connection().execute(text(query)).first()
        if found is None:
            continue
        _, item_id, before, diff = found
        if guard == "require_qoh":
            raise NegativeStock(
                f"Inventory item {item_id} has {from_micros(before)} on hand; {from_micros(diff)} "
                "would take it below zero",
                inventoryItemId=item_id,
                quantityOnHandTotal=from_micros(before),
                quantityOnHandDiff=from_micros(diff),
            )
        raise InsufficientStock(
            f"Inventory item {item_id} has {from_micros(before)} available to promise; "
            f"{from_micros(-diff)} requested",
            inventoryItemId=item_id,
            available=from_micros(before),
            requested=from_micros(-diff),
        )
