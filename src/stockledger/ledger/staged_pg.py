"""The ledger's set-based door (PostgreSQL): postings staged in a temporary table, posted by the
database in two statements, however many there are.

A bulk caller (the ERP reset) that has computed its postings in SQL stages them in the
temporary table STAGED_POSTINGS (ord, facility_id, inventory_item_id, qoh_diff, atp_diff,
acc_diff), the diffs in micro-units (core.fixed), and the items that do not exist yet, each
with postings there (a findOrCreate's new facility items), in the temporary table STAGED_ITEMS
(facility_id, inventory_item_id, product_id; empty if none). The statements name these fixed
tables, never a name handed in. `post_staged` then writes, in the caller's transaction:

  * one UPDATE of each item's totals (all its postings summed) and of its `last_detail_seq`,
    returning the totals before them (a new item: inserted with its postings' totals, available
    and non-serialised, not inserted at zero and updated, which would write each row twice and
    check its foreign keys twice);
  * one InventoryItemDetail row per posting (several postings on one item: consecutive seq
    numbers in `ord` order, as `post` would give them one after the other).

So the ledger rule holds as for `post`: for every item, totals == sum of its detail diffs.
What was posted is left in the temporary table STAGED_POSTED (ord, facility_id,
inventory_item_id, seq_id, qoh_diff, atp_diff, qoh_total, atp_total: the item's totals right
after the posting), for the caller's events. No refusal: the postings staged carry no
`require_atp`/`require_qoh` guard (a reset sets totals, it may not be refused).

SQL in PostgreSQL's dialect only (data-modifying CTEs, temporary tables dropped at commit):
reached only where core.dialects.stages_set_based says the database can (resets/set_based.py).
"""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.ledger.postings import Links
from stockledger.ledger.postings_pg import format_seq_sql
from stockledger.ledger.rules_check import INV_AVAILABLE

STAGED_POSTINGS = "ledger_staged_posting"
STAGED_ITEMS = "ledger_staged_item"
STAGED_POSTED = "ledger_staged_posted"

_MOVE = f"""
WITH summed AS (
    SELECT facility_id, inventory_item_id, sum(qoh_diff) AS qoh, sum(atp_diff) AS atp,
           sum(acc_diff) AS acc, count(*) AS n
    FROM {STAGED_POSTINGS} GROUP BY facility_id, inventory_item_id
), created AS (
    INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id, status_id,
        datetime_received, quantity_on_hand_total, available_to_promise_total, accounting_quantity_total,
        last_detail_seq, created_stamp)
    SELECT c.facility_id, c.inventory_item_id, 'NON_SERIAL_INV_ITEM', c.product_id, '{INV_AVAILABLE}', :now,
           s.qoh, s.atp, s.acc, s.n, :now
    FROM {STAGED_ITEMS} c
    JOIN summed s ON s.facility_id = c.facility_id AND s.inventory_item_id = c.inventory_item_id
    ORDER BY c.facility_id, c.inventory_item_id
    RETURNING facility_id, inventory_item_id, 0 AS seq0, 0::bigint AS qoh0, 0::bigint AS atp0
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
    RETURNING i.facility_id, i.inventory_item_id, i.last_detail_seq - s.n AS seq0,
              i.quantity_on_hand_total - s.qoh AS qoh0, i.available_to_promise_total - s.atp AS atp0
), before AS (
    SELECT * FROM moved UNION ALL SELECT * FROM created
), numbered AS (
    SELECT p.ord, p.facility_id, p.inventory_item_id, p.qoh_diff, p.atp_diff, p.acc_diff,
           m.seq0 + row_number() OVER w AS seq,
           m.qoh0 + sum(p.qoh_diff) OVER w AS qoh_total,
           m.atp0 + sum(p.atp_diff) OVER w AS atp_total
    FROM {STAGED_POSTINGS} p
    JOIN before m ON m.facility_id = p.facility_id AND m.inventory_item_id = p.inventory_item_id
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


def post_staged(session: Session, reason: str, links: Links, now: datetime) -> int:
    """Post every posting of STAGED_POSTINGS, creating the items of STAGED_ITEMS (see above), in
    the session's transaction; the number of detail rows written. `now` (naive UTC) is their
    effective date and stamp; the user (core.actor) is recorded unless `links` names one."""
    connection = session.connection()
    connection.execute(text(_DROP_POSTED))
    connection.execute(text(_CREATE_POSTED))
    connection.execute(text(_MOVE), {"now": now})
    values = {name: getattr(links, name) for name in _LINK_COLUMNS}
    if values["change_by_user_login_id"] is None:
        values["change_by_user_login_id"] = acting_user(session)
    result = connection.execute(
        text(_DETAIL), {**values, "effective_date": now, "reason": reason, "now": now}
    )
    return int(result.rowcount)
