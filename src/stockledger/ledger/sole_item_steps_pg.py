"""The one-statement reservation on Citus (ledger/sole_item_pg.py): the same rows, written by
statements that each stay on the facility's shard (a Citus router plan: one task, no part planned
apart), in one transaction.

Why not the one statement: Citus routes a statement with writing CTEs to one shard only when
those CTEs are UPDATEs or DELETEs (multi_router_planner.c: "only SELECT, UPDATE, or DELETE
common table expressions may be router planned"); an INSERT CTE, or an INSERT … SELECT from a
writing CTE, is planned in parts through the coordinator (or not at all). And the order-item
guard of SPEC §11 reads the order item in every facility, so on every shard. So, where
core.citus.shards_by_facility:

1. the order item in the OTHER facilities, read: another product there → no row, nothing
   written (the general path answers 409 order_item_conflict). order_item is distributed by
   facility, so this read goes to every shard; it is the only statement that does, and it
   writes nothing;
2. the guarded post (`WITH picked …, posted AS (UPDATE …) SELECT …`: ledger/sole_item_pg.py
   `POST_STEP`, built from the one statement's parts), the order-item guard limited to the
   facility: one shard;
3. in one round trip (pipelined, core.write_behind.WriteBehind): the detail row, the reservation upsert,
   the event and the order item's claim, each an INSERT … VALUES on the facility's shard. The
   event's INSERT names `stockledger_fenced_nextval`: Citus evaluates it on the coordinator
   before routing the row, so its number and fence are the coordinator's (core/fence.py).

The claim's upsert decides between concurrent first uses in the facility, as on one server
(another product there: its NOT NULL violation aborts the transaction, ledger/post.py
`lost_claim`). Another facility's claim that is not yet committed is not seen by step 1, nor by
the one statement's guard on one server (READ COMMITTED): `stockledger verify` reports such a
pair (one_product_per_order_item); docs/scaling.md.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.model_base import utcnow
from stockledger.core.statements import Statement, bound, run
from stockledger.core.write_behind import WriteBehind
from stockledger.events.outbox import event_insert
from stockledger.ledger.models import OrderItem
from stockledger.ledger.postings import (
    DETAIL,
    DETAIL_COLUMNS,
    Links,
    Posting,
    detail_values,
    format_seq,
)
from stockledger.ledger.reservation_rows import ReservationRow, reservation_statements
from stockledger.ledger.sole_item_pg import POST_STEP, SoleItemReservation

ORDER_ITEM = cast(Table, OrderItem.__table__)


def post_in_steps(session: Session, reservation: SoleItemReservation) -> str | None:
    """In the session's transaction (the caller has checked the facility scope): the item's id,
    or None having written nothing. A claim lost to another product raises the IntegrityError
    `lost_claim` recognises, after the post: the caller's transaction must roll back."""
    r = reservation
    keys = {
        "facility_id": r.facility_id,
        "order_id": r.order_id,
        "order_item_seq_id": r.order_item_seq_id,
        "product_id": r.product_id,
    }
    if run(session, Statement(_ANOTHER_PRODUCT_ELSEWHERE, keys)):
        return None
    diff = bound(session, DETAIL, {"available_to_promise_diff": -r.quantity})  # the column's form
    guarded = {**keys, "lot_id": r.lot_id, **diff}
    posted = run(session, Statement(POST_STEP[r.lot_id is not None, r.allow_expired], guarded))
    if not posted:
        return None
    item_id, seq_num = str(posted[0][0]), int(posted[0][1])
    now = utcnow()
    with WriteBehind(session) as behind:
        for statement in _writes(session, r, item_id, seq_num, now):
            behind.send(statement)
    return item_id


def _writes(
    session: Session, r: SoleItemReservation, item_id: str, seq_num: int, now: datetime
) -> list[Statement]:
    """The rows the one statement writes after its post: detail, reservation, event, claim."""
    user = acting_user(session)
    links = Links(order_id=r.order_id, order_item_seq_id=r.order_item_seq_id, change_by_user_login_id=user)
    posting = Posting(
        r.facility_id, item_id, r.reason_enum_id, available_to_promise_diff=-r.quantity, links=links
    )
    detail = bound(session, DETAIL, detail_values(posting, seq_num, format_seq(seq_num), now, user))
    row = ReservationRow(
        r.facility_id, r.order_id, r.order_item_seq_id, item_id, r.product_id, r.quantity, Decimal(0), now
    )
    claim: dict[str, Any] = {
        "facility_id": r.facility_id,
        "order_id": r.order_id,
        "order_item_seq_id": r.order_item_seq_id,
        "product_id": r.product_id,
        "created_stamp": now,
    }
    return [
        Statement(_DETAIL_INSERT, detail),
        *reservation_statements(session, [row]),
        event_insert(session, r.facility_id, r.event_type, r.event_payload(item_id)),
        Statement(_CLAIM, bound(session, ORDER_ITEM, claim)),
    ]


# Another product named for the order item in another facility (orders/items.py reads the same).
_ANOTHER_PRODUCT_ELSEWHERE = (
    "SELECT 1 FROM order_item WHERE order_id = :order_id AND order_item_seq_id = :order_item_seq_id "
    "AND facility_id <> :facility_id AND product_id <> :product_id LIMIT 1"
)


_DETAIL_INSERT = (
    f"INSERT INTO inventory_item_detail ({', '.join(DETAIL_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in DETAIL_COLUMNS)})"
)
# The claim of ledger/sole_item_pg.py: another product there sets product_id NULL, whose NOT NULL
# constraint aborts the transaction.
_CLAIM_HEAD = "INSERT INTO order_item ("
_CLAIM = (
    f"{_CLAIM_HEAD}facility_id, order_id, order_item_seq_id, product_id, created_stamp) "
    "VALUES (:facility_id, :order_id, :order_item_seq_id, :product_id, :created_stamp) "
    "ON CONFLICT (facility_id, order_id, order_item_seq_id) DO UPDATE SET product_id = "
    "CASE WHEN order_item.product_id = excluded.product_id THEN order_item.product_id END"
)
