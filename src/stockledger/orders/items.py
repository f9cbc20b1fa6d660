"""One order item, one product (SPEC §11): an order item's product is fixed by its first use.

`claim_order_items` records (facility, order, order item) → product on first use and refuses
another product with 409 order_item_conflict. Its upsert takes the order item's row lock, so of
two concurrent first uses in a facility the second waits, then sees the first's product. The
order item's rows in other facilities (a return to another store, a re-brokered line) are
read: they may name no other product either. Callers claim before they lock inventory items.
"""

from collections.abc import Iterable, Mapping
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from stockledger.core.dialects import binds_arrays, from_arrays, upsert
from stockledger.core.errors import OrderItemConflict
from stockledger.core.model_base import utcnow
from stockledger.core.scope import check_facility
from stockledger.core.statements import Statement, run
from stockledger.ledger.models import OrderItem

ORDER_ITEM = cast(Table, OrderItem.__table__)
KEYS = ("facility_id", "order_id", "order_item_seq_id")
CHUNK = 1_000  # rows per upsert: 5 parameters each, well under both databases' limits

_COLUMNS = (*KEYS, "product_id", "created_stamp")
_RETURNED = ("order_id", "order_item_seq_id", "product_id")
_INSERT = f"INSERT INTO order_item ({', '.join(_COLUMNS)})"
_CLAIMED = (
    f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET product_id = order_item.product_id "
    f"RETURNING {', '.join(_RETURNED)}"
)

Products = Mapping[tuple[str, str], str]  # (order id, order item seq id) → product id


def products_of(order_items: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """(order id, seq id, product id) triples as a mapping; one order item named with two
    products in the same request is refused."""
    found: dict[tuple[str, str], str] = {}
    for order_id, seq_id, product_id in order_items:
        known = found.setdefault((order_id, seq_id), product_id)
        if known != product_id:
            raise _conflict(order_id, seq_id, known, product_id)
    return found


def claim_order_items(session: Session, facility_id: str, products: Products) -> None:
    """Fix each order item's product in the facility on its first use; 409 when it (here or in
    another facility) belongs to another product. The caller's transaction holds the rows."""
    check_facility(session, facility_id)
    if not products:
        return
    now = utcnow()
    rows = [  # in lock order
        {"facility_id": facility_id, "order_id": o, "order_item_seq_id": s, "product_id": products[(o, s)]}
        | {"created_stamp": now}
        for o, s in sorted(products)
    ]
    claimed: Iterable[tuple[str, str, str]]
    if binds_arrays(session):  # one statement of a few arrays, however many rows
        select_rows, params = from_arrays(session, ORDER_ITEM, rows)
        claimed = run(session, Statement(f"{_INSERT} {select_rows} {_CLAIMED}", params))
    else:  # INSERT … VALUES of many rows, compiled once ("insertmanyvalues"), in pages
        stmt = upsert(session, ORDER_ITEM).on_conflict_do_update(
            index_elements=list(KEYS), set_={"product_id": ORDER_ITEM.c.product_id}
        )
        claimed = session.execute(stmt.returning(*(ORDER_ITEM.c[k] for k in _RETURNED)), rows).tuples()
    _refuse_others(products, ((o, s, p) for o, s, p in claimed))
    check_order_items(session, products, except_facility=facility_id)


def check_order_items(session: Session, products: Products, except_facility: str | None = None) -> None:
    """409 when an order item already belongs to another product (in any facility but one)."""
    oi = ORDER_ITEM.c
    by_order: dict[str, list[str]] = {}
    for order_id, seq_id in sorted(products):
        by_order.setdefault(order_id, []).append(seq_id)
    for order_id, seq_ids in by_order.items():
        for start in range(0, len(seq_ids), CHUNK):
            stmt = select(oi.order_id, oi.order_item_seq_id, oi.product_id).where(
                oi.order_id == order_id, oi.order_item_seq_id.in_(seq_ids[start : start + CHUNK])
            )
            if except_facility is not None:
                stmt = stmt.where(oi.facility_id != except_facility)
            _refuse_others(products, ((o, s, p) for o, s, p in session.execute(stmt)))


def _refuse_others(products: Products, found: Iterable[tuple[str, str, str]]) -> None:
    for order_id, seq_id, product_id in found:
        asked = products[(order_id, seq_id)]
        if product_id != asked:
            raise _conflict(order_id, seq_id, product_id, asked)


def _conflict(order_id: str, seq_id: str, product_id: str, asked: str) -> OrderItemConflict:
    return OrderItemConflict(
        f"Order item {order_id}/{seq_id} belongs to product {product_id}, not {asked}",
        orderId=order_id,
        orderItemSeqId=seq_id,
        productId=product_id,
        requestedProductId=asked,
    )
