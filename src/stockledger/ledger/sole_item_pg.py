"""The one-statement reservation (PostgreSQL): a product's sole item found and posted to, its
reservation row, the order item's claim and the event, all written by ONE statement; its type
and its SQL (and the post step's of ledger/sole_item_steps_pg.py, from the same parts). The
ledger's door (ledger/post.py `post_sole_item`) decides how it is sent.

The same rows as the general path (reservations: lock, plan, `post`, upsert, record_event),
or none: no row returned means nothing was written (not the sole item, too little ATP, an
order item of another product), and the caller takes the general path, which decides.

Only the sole item: a guarded UPDATE that waited for another transaction and then found too
little ATP still holds its row lock, and a caller falling back to locking all the product's
items in id order must not hold one of them out of that order (deadlock).

SQL in PostgreSQL's dialect only (data-modifying CTEs, to_json): reached only where
core.dialects.writes_through_ctes (reservations/service.py) or `Database.runs_alone`
(reservations/api.py, through reservations/service.py and ledger/post.py) says the database can; on Citus
(core.citus.shards_by_facility) it hands over to ledger/sole_item_steps_pg.py.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from stockledger.core.dialects import UTC_NOW_IN_CTE_STATEMENTS
from stockledger.core.fence import fence_sql
from stockledger.core.model_base import utcnow
from stockledger.core.statements import BindTarget, Statement, bound
from stockledger.events.outbox import OUTBOX_SEQUENCE, payload_around
from stockledger.ledger.postings import DETAIL, LINK_NAMES, TOTALS
from stockledger.ledger.postings_pg import format_seq_sql
from stockledger.ledger.reservation_rows import RES_ACTIVE, insert_from


@dataclass(frozen=True, slots=True)
class SoleItemReservation:
    """`quantity` of a product (of its lot `lot_id`, if given) promised to an order item from
    the product's only INV_AVAILABLE item in the facility, if that item has it and, unless
    `allow_expired`, its lot has not expired (SPEC §11: only promisable stock is reserved);
    and unless the order item belongs to another product (orders/items.py). The event
    `event_type` gets the payload `event_payload(item id)`."""

    facility_id: str
    order_id: str
    order_item_seq_id: str
    product_id: str
    lot_id: str | None
    quantity: Decimal
    reason_enum_id: str
    event_type: str
    event_payload: Callable[[str], dict[str, Any]]
    allow_expired: bool = False


def sole_item_statement(on: BindTarget, reservation: SoleItemReservation, user: str | None) -> Statement:
    """The statement, its values bound for `on` (a session or an engine): returns the item's
    id, or no row having written nothing. Each value once (12 parameters, 13 with a lot; the
    rows' other columns are constants of the SQL: `DETAIL_EXPRESSIONS`,
    `RESERVATION_EXPRESSIONS`): binding the 35 values of the generic row builders cost ≈ 20 µs
    a call."""
    r = reservation
    at, diff, quantity = _bind(on, utcnow(), r.quantity)
    payload_head, payload_tail = payload_around(r.event_type, r.event_payload, user)
    params = {
        "facility_id": r.facility_id,
        "product_id": r.product_id,
        "lot_id": r.lot_id,
        "order_id": r.order_id,
        "order_item_seq_id": r.order_item_seq_id,
        "available_to_promise_diff": diff,
        "quantity": quantity,
        "reason_enum_id": r.reason_enum_id,
        "user": user,
        "now": at,
        "event_type": r.event_type,
        "payload_head": payload_head,
        "payload_tail": payload_tail,
    }
    return Statement(_SQL[r.lot_id is not None, r.allow_expired], params)


def _bind(on: BindTarget, now: datetime, quantity: Decimal) -> tuple[Any, Any, Any]:
    """`now` and ± `quantity` in the driver's form (the detail table's column types)."""
    values = bound(on, DETAIL, {"created_stamp": now, "available_to_promise_diff": -quantity})
    return values["created_stamp"], values["available_to_promise_diff"], -values["available_to_promise_diff"]


# The detail row's columns but the item's id and number (which come from `posted`), as SQL: a
# reservation's posting (ledger/postings.py `detail_values`: a unit test checks they agree).
DETAIL_EXPRESSIONS = {
    "facility_id": ":facility_id",
    "effective_date": ":now",
    "quantity_on_hand_diff": "0",
    "available_to_promise_diff": ":available_to_promise_diff",
    "accounting_quantity_diff": "0",
    "reason_enum_id": ":reason_enum_id",
    "created_stamp": ":now",
    "order_id": ":order_id",
    "order_item_seq_id": ":order_item_seq_id",
    "change_by_user_login_id": ":user",
} | {c: "NULL" for c in LINK_NAMES if c not in ("order_id", "order_item_seq_id", "change_by_user_login_id")}
# The reservation row's columns but the item's id (ledger/reservation_rows.py `insert_from`).
RESERVATION_EXPRESSIONS = {
    "facility_id": ":facility_id",
    "order_id": ":order_id",
    "order_item_seq_id": ":order_item_seq_id",
    "product_id": ":product_id",
    "quantity": ":quantity",
    "quantity_not_available": "0",
    "reserved_datetime": ":now",
    "status_id": f"'{RES_ACTIVE}'",
    "status_datetime": ":now",
}


def _picked(lot: bool, live: bool, only_here: bool = False) -> str:
    """The product's item: INV_AVAILABLE, of the lot if given, live unless expired lots are
    allowed, with ATP; the only INV_AVAILABLE one of the product in the facility (expired or
    not: the general path locks them all); not for an order item of another product (in this
    facility alone if `only_here`: the post step on Citus, which reads the others first)."""
    return (
        "picked AS (SELECT one.inventory_item_id FROM inventory_item AS one "
        "WHERE one.facility_id = :facility_id AND one.product_id = :product_id "
        f"AND one.status_id = 'INV_AVAILABLE'{_LOT if lot else ''}{_live('one') if live else ''} "
        "AND one.available_to_promise_total > 0 "
        "AND NOT EXISTS (SELECT 1 FROM inventory_item AS other WHERE other.facility_id = :facility_id "
        "AND other.product_id = :product_id AND other.status_id = 'INV_AVAILABLE' "
        "AND other.inventory_item_id <> one.inventory_item_id) "
        # SPEC §11: not for an order item that belongs to another product (orders/items.py decides)
        f"AND NOT EXISTS (SELECT 1 FROM order_item AS oi WHERE {_HERE if only_here else ''}"
        "oi.order_id = :order_id "
        "AND oi.order_item_seq_id = :order_item_seq_id AND oi.product_id <> :product_id))"
    )


def _posted(live: bool, returning: str) -> str:
    """The guarded UPDATE … RETURNING (`returning`) of the item picked (re-checked under its row
    lock). The pick is a scalar subquery, run once before the UPDATE looks its row up by primary
    key: as a join (UPDATE … FROM picked), a plan made without statistics (right after a bulk
    load) walked the facility's items in a nested loop, 1,000 × 1,000 rows, 124 ms a reservation."""
    return (
        "posted AS (UPDATE inventory_item AS i SET "
        "available_to_promise_total = i.available_to_promise_total + :available_to_promise_diff, "
        "last_detail_seq = i.last_detail_seq + 1 "
        "WHERE i.facility_id = :facility_id AND i.inventory_item_id = (SELECT inventory_item_id FROM picked) "
        f"AND i.status_id = 'INV_AVAILABLE'{_live('i') if live else ''} "
        "AND i.available_to_promise_total + :available_to_promise_diff >= 0 "
        f"RETURNING {returning})"
    )


def _live(alias: str) -> str:
    """Not expired, by the database's clock."""
    return f" AND ({alias}.expire_date IS NULL OR {alias}.expire_date > {UTC_NOW_IN_CTE_STATEMENTS})"


_LOT = " AND one.lot_id = :lot_id"
_HERE = "oi.facility_id = :facility_id AND "
_RETURNED = f"i.inventory_item_id, i.last_detail_seq, {', '.join('i.' + t for t in TOTALS)}"

_SEQ_ID = format_seq_sql("last_detail_seq")
_POSTED_DETAIL = (
    "posted_detail AS (INSERT INTO inventory_item_detail (inventory_item_id, inventory_item_detail_seq_id, "
    f"seq_num, {', '.join(DETAIL_EXPRESSIONS)}) SELECT inventory_item_id, {_SEQ_ID}, "
    f"last_detail_seq, {', '.join(DETAIL_EXPRESSIONS.values())} FROM posted)"
)
# The event's number is taken after its fence is raised (core/fence.py), as
# stockledger_fenced_nextval does but without its PL/pgSQL call and PERFORM (≈ 7 µs of the
# server's CPU a reservation, bench/pg_reserve_cpu.py): `posted` raises the fence as it returns
# its row (`fence`, a volatile output the planner keeps), and `event` takes the number with plain
# nextval from that row, so after the fence; no row posted, no fence.
_RETURNED_FENCED = f"{_RETURNED}, {fence_sql(OUTBOX_SEQUENCE)} AS fence"
_EVENT = (
    "event AS (INSERT INTO outbox_event (facility_id, event_seq, event_type, payload, created_stamp) "
    f"SELECT :facility_id, nextval('{OUTBOX_SEQUENCE}'), :event_type, "
    ":payload_head || to_json(inventory_item_id)::text || :payload_tail, :now FROM posted)"
)
# The order item's claim for the product (orders/items.py): another product there (a first use
# that won meanwhile, past `picked`'s guard) sets product_id NULL, and the NOT NULL constraint
# aborts the whole statement, so nothing is written (ledger/post.py `lost_claim`).
_CLAIMED = (
    "claimed AS (INSERT INTO order_item "
    "(facility_id, order_id, order_item_seq_id, product_id, created_stamp) "
    "SELECT :facility_id, :order_id, :order_item_seq_id, :product_id, :now FROM posted "
    "ON CONFLICT (facility_id, order_id, order_item_seq_id) DO UPDATE SET product_id = "
    "CASE WHEN order_item.product_id = excluded.product_id THEN order_item.product_id END)"
)
_AFTER = (
    f"{_POSTED_DETAIL}, reserved AS ({insert_from('posted', RESERVATION_EXPRESSIONS)}), {_EVENT}, {_CLAIMED} "
    "SELECT inventory_item_id FROM posted"
)
_SQL = {  # (lot given, expired lots allowed) → the statement
    (lot, allow_expired): (
        f"WITH {_picked(lot, not allow_expired)}, {_posted(not allow_expired, _RETURNED_FENCED)}, {_AFTER}"
    )
    for lot in (False, True)
    for allow_expired in (False, True)
}
# Citus's post step (ledger/sole_item_steps_pg.py): the same pick and post, the order-item guard in
# the facility alone; the item's id and new last_detail_seq.
POST_STEP = {  # (lot given, expired lots allowed) → the statement
    (lot, allow_expired): (
        f"WITH {_picked(lot, not allow_expired, only_here=True)}, "
        f"{_posted(not allow_expired, 'i.inventory_item_id, i.last_detail_seq')} "
        "SELECT inventory_item_id, last_detail_seq FROM posted"
    )
    for lot in (False, True)
    for allow_expired in (False, True)
}
