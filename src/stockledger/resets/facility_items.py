"""findOrCreateFacilityInventoryItem for many (facility, product) pairs at once, set-based.

The same protocol as catalog.inventory_items.find_or_create_facility_inventory_item (link
upserted, then claimed by a conditional UPDATE; the loser of a race re-reads the winner),
but a few executemany statements per batch instead of a few round trips per line. Facilities and products are
expected to be known (the caller has checked them).

For a reset the facility item must be promisable (SPEC §11: INV_AVAILABLE, lot not expired), or
the ATP it sets would not show: a link naming a held item or an expired lot is claimed anew from
that item (the same conditional UPDATE) for the oldest promisable item, else a new zero one.
An increase, a receipt or a variance by productId takes its item by the same rule
(catalog.inventory_items.promisable_facility_item): stock added by product is stock to sell.
"""

from collections.abc import Collection, Iterator, Sequence
from typing import TypeVar, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from stockledger.core.bulk import execute_many
from stockledger.core.dialects import one_of, upsert
from stockledger.core.fixed import ZERO
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.sqlclock import utc_now
from stockledger.ledger.models import InventoryItem, ProductFacility
from stockledger.reservations.rules import INV_AVAILABLE

PF = cast(Table, ProductFacility.__table__)
ITEM = cast(Table, InventoryItem.__table__)
Pair = tuple[str, str]
CHUNK = 10_000  # products per statement: under SQLite's 32,766 bind parameters
_T = TypeVar("_T")
# What a new reservation can take now (SPEC §11), by the database's clock: the reset's totals
# (resets/service.py) and its facility items alike.
PROMISABLE = and_(
    ITEM.c.status_id == INV_AVAILABLE, or_(ITEM.c.expire_date.is_(None), ITEM.c.expire_date > utc_now())
)


def find_or_create_facility_items(
    session: Session, pairs: Collection[Pair], created: set[Pair] | None = None
) -> dict[Pair, str]:
    """The promisable facility item id of each (facilityId, productId), creating link and zero
    item when missing (or re-pointing a link that names an item not promisable); the pairs whose
    item this call inserted are added to `created` (their totals are zero, their last detail seq
    0, and this transaction's insert holds them)."""
    links = _linked(session, pairs)
    linked = {pair: item for pair, (item, promisable) in links.items() if promisable}
    missing = sorted(set(pairs) - linked.keys())
    if missing:
        candidates = _oldest_items(session, missing)
        fresh = {pair: new_id("II") for pair in missing if pair not in candidates}
        before = {pair: links[pair][0] for pair in missing if pair in links}
        _claim_links(session, {**candidates, **fresh}, before)
        winners = {pair: item for pair, (item, _) in _linked(session, missing).items()}
        inserted = {pair: item for pair, item in fresh.items() if winners.get(pair) == item}
        _insert_zero_items(session, inserted)
        if created is not None:
            created.update(inserted)
        linked.update(winners)
    return linked


def lock_links(session: Session, pairs: Collection[Pair]) -> None:
    """Insert (ON CONFLICT DO NOTHING: waiting for a transaction inserting it) and lock the
    ProductFacility row of each pair, in (facility, product) order: the row a reset of a product
    with no item yet locks, so a concurrent reset reads its totals only after this one commits."""
    rows = [{"f": f, "p": p} for f, p in sorted(pairs)]
    if not rows:
        return
    session.execute(
        upsert(session, PF)
        .values(facility_id=bindparam("f"), product_id=bindparam("p"))
        .on_conflict_do_nothing(index_elements=["facility_id", "product_id"]),
        rows,
    )
    for facility_id, products in _by_facility(pairs):
        locked = (
            select(PF.c.product_id)
            .where(PF.c.facility_id == facility_id, one_of(session, PF.c.product_id, products))
            .order_by(PF.c.product_id)
            .with_for_update()
        )
        session.connection().execute(locked).all()


def _linked(session: Session, pairs: Collection[Pair]) -> dict[Pair, tuple[str, bool]]:
    """The item each pair's link names, and whether it is promisable (an item this call is yet
    to insert: not yet)."""
    found: dict[Pair, tuple[str, bool]] = {}
    for facility_id, products in _by_facility(pairs):
        rows = (
            session.connection()
            .execute(
                select(PF.c.product_id, PF.c.inventory_item_id, PROMISABLE)
                .outerjoin_from(
                    PF,
                    ITEM,
                    and_(
                        ITEM.c.facility_id == PF.c.facility_id,
                        ITEM.c.inventory_item_id == PF.c.inventory_item_id,
                    ),
                )
                .where(
                    PF.c.facility_id == facility_id,
                    one_of(session, PF.c.product_id, products),
                    PF.c.inventory_item_id.is_not(None),
                )
            )
            .all()
        )
        found.update({(facility_id, p): (item, bool(promisable)) for p, item, promisable in rows})
    return found


def _oldest_items(session: Session, pairs: Collection[Pair]) -> dict[Pair, str]:
    """Promisable items already there without a link (loaded lots), or whose link names an item
    not promisable: the oldest becomes the facility item."""
    oldest: dict[Pair, str] = {}
    for facility_id, products in _by_facility(pairs):
        rows = session.connection().execute(
            select(ITEM.c.product_id, ITEM.c.inventory_item_id)
            .where(
                ITEM.c.facility_id == facility_id, one_of(session, ITEM.c.product_id, products), PROMISABLE
            )
            .order_by(ITEM.c.created_stamp.desc(), ITEM.c.inventory_item_id.desc())
        )
        oldest.update({(facility_id, p): item for p, item in rows})  # the last written (oldest) wins
    return oldest


def _by_facility(pairs: Collection[Pair]) -> Iterator[tuple[str, Sequence[str]]]:
    """Product ids per facility, in chunks: `facility_id = f AND product_id IN (…)` uses the index."""
    grouped: dict[str, list[str]] = {}
    for facility_id, product_id in sorted(pairs):
        grouped.setdefault(facility_id, []).append(product_id)
    for facility_id, products in grouped.items():
        for chunk in _chunks(products, CHUNK):
            yield facility_id, chunk


def _claim_links(session: Session, candidates: dict[Pair, str], before: dict[Pair, str]) -> None:
    """Upsert the ProductFacility rows, then link each candidate where the link still names what
    it named when read (`before`: the item not promisable; absent: none)."""
    rows = [
        {"f": f, "p": p, "item": item, "before": before.get((f, p))}
        for (f, p), item in sorted(candidates.items())
    ]
    links = [{"f": f, "p": p} for (f, p), _ in sorted(candidates.items())]
    new_link = upsert(session, PF).values(facility_id=bindparam("f"), product_id=bindparam("p"))
    new_link = new_link.on_conflict_do_nothing(index_elements=["facility_id", "product_id"])
    execute_many(session, new_link, links)
    execute_many(session, _CLAIM, rows)


_CLAIM = (
    update(PF)
    .where(
        PF.c.facility_id == bindparam("f"),
        PF.c.product_id == bindparam("p"),
        PF.c.inventory_item_id.is_not_distinct_from(bindparam("before", type_=PF.c.inventory_item_id.type)),
    )
    .values(inventory_item_id=bindparam("item"))
)


def _insert_zero_items(session: Session, items: dict[Pair, str]) -> None:
    now = utcnow()
    rows = [
        {
            "facility_id": f,
            "inventory_item_id": item,
            "inventory_item_type_id": "NON_SERIAL_INV_ITEM",
            "product_id": p,
            "status_id": "INV_AVAILABLE",
            "datetime_received": now,
            "quantity_on_hand_total": ZERO,
            "available_to_promise_total": ZERO,
            "accounting_quantity_total": ZERO,
            "last_detail_seq": 0,
            "created_stamp": now,
        }
        for (f, p), item in sorted(items.items())
    ]
    execute_many(session, insert(ITEM), rows)


def _chunks(rows: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
