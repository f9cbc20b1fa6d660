"""The reservation's reads under lock: the products' INV_AVAILABLE items, locked in item id
order (the lock order of every writer), and the check that unknown products exist."""

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.orm import Session

from stockledger.core.dialects import array_literal, binds_arrays, locking, serialises_writers
from stockledger.core.errors import NotFound
from stockledger.core.statements import Statement, fetched_rows, run
from stockledger.ledger.models import InventoryItem, Product
from stockledger.reservations.rules import INV_AVAILABLE, Candidate, chunks, fefo_key
from stockledger.reservations.statements_pg import lock_products

CHUNK = 10_000  # keys per IN (…) list: well under both databases' bind-parameter limits


def require_products(session: Session, product_ids: set[str]) -> None:
    found: set[str] = set()
    for chunk in chunks(sorted(product_ids), CHUNK):
        found.update(session.scalars(select(Product.product_id).where(Product.product_id.in_(chunk))))
    missing = sorted(product_ids - found)
    if missing:
        raise NotFound(f"Product {missing[0]} not found", productIds=missing[:100])


Locked = dict[str, int]  # inventory item id → its last_detail_seq, read under the lock


def lock_candidates(
    session: Session, facility_id: str, product_ids: set[str]
) -> tuple[dict[str, list[Candidate]], Locked]:
    """The products' INV_AVAILABLE items, locked in item id order; per product in FEFO order."""
    if len(product_ids) == 1:  # the usual single line: a lean statement
        lock = Statement(
            locking(session, _LOCK_ONE_PRODUCT, "inventory_item_id"),
            {"f": facility_id, "p": next(iter(product_ids))},
        )
        return _candidates(fetched_rows(session, _LEAN_COLUMNS, run(session, lock)))
    if binds_arrays(session):  # one lean statement, the ids as one array, the locks in id order
        lock = Statement(_LOCK_PRODUCTS, {"f": facility_id, "p": array_literal(sorted(product_ids))})
        return _candidates(fetched_rows(session, _LEAN_COLUMNS, run(session, lock)))
    if serialises_writers(session) and len(product_ids) <= CHUNK:  # no row lock needed: one statement
        return _candidates(session.execute(_SELECT_BY_PRODUCT, {"f": facility_id, "p": sorted(product_ids)}))
    i = InventoryItem
    ids: list[str] = []
    for chunk in chunks(sorted(product_ids), CHUNK):
        ids.extend(
            session.scalars(
                select(i.inventory_item_id).where(
                    i.facility_id == facility_id, i.product_id.in_(chunk), i.status_id == INV_AVAILABLE
                )
            )
        )
    locked: list[Row[Any]] = []
    for chunk in chunks(sorted(ids), CHUNK):
        locked.extend(
            session.execute(
                select(*_CANDIDATE_COLUMNS)
                .where(i.facility_id == facility_id, i.inventory_item_id.in_(chunk))
                .order_by(i.inventory_item_id)
                .with_for_update()
            )
        )
    return _candidates(locked)


def _candidates(rows: Iterable[Row[Any] | tuple[Any, ...]]) -> tuple[dict[str, list[Candidate]], Locked]:
    found: dict[str, list[Candidate]] = {}
    locked: Locked = {}
    for item_id, product_id, lot_id, atp, expire, received, status, last_seq in rows:
        if status == INV_AVAILABLE:  # re-checked under the lock
            found.setdefault(product_id, []).append(
                Candidate(item_id, product_id, lot_id, atp, expire, received)
            )
            locked[item_id] = last_seq
    for items in found.values():
        items.sort(key=fefo_key)
    return found, locked


_CANDIDATE_COLUMNS = (
    InventoryItem.inventory_item_id,
    InventoryItem.product_id,
    InventoryItem.lot_id,
    InventoryItem.available_to_promise_total,
    InventoryItem.expire_date,
    InventoryItem.datetime_received,
    InventoryItem.status_id,
    InventoryItem.last_detail_seq,
)
_LEAN_COLUMNS = tuple(cast(Table, InventoryItem.__table__).c[c.key] for c in _CANDIDATE_COLUMNS)
_LOCK_ONE_PRODUCT = (
    f"SELECT {', '.join(c.name for c in _CANDIDATE_COLUMNS)} FROM inventory_item "
    f"WHERE facility_id = :f AND product_id = :p AND status_id = '{INV_AVAILABLE}'"
)
# Built once: the same statement objects every call, so SQLAlchemy's compiled cache always hits.
# SQLite needs no lock order (and ordering by the key made its planner scan the facility).
_SELECT_BY_PRODUCT = select(*_CANDIDATE_COLUMNS).where(
    InventoryItem.facility_id == bindparam("f"),
    InventoryItem.product_id.in_(bindparam("p", expanding=True)),
    InventoryItem.status_id == INV_AVAILABLE,
)
# where the database binds arrays
_LOCK_PRODUCTS = lock_products(", ".join(c.name for c in _CANDIDATE_COLUMNS))
