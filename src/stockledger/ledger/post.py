"""THE write path: the only code that changes an inventory item's totals.

Each posting is one guarded UPDATE … RETURNING on the item (totals and the detail
sequence move together, atomically, in the database) followed by the INSERT of its
InventoryItemDetail row, in the caller's transaction. Nothing else writes totals, so
for every item: totals == sum of its detail diffs.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import NoReturn, cast

from sqlalchemy import Table, case, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import ReturningUpdate

from stockledger.core.errors import InsufficientStock, NotFound
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
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
    """One change of one item. `require_atp` refuses it if ATP would go below zero."""

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


def format_seq(number: int) -> str:
    return f"{number:05d}"


def post(session: Session, posting: Posting) -> Posted:
    """Apply one posting: new totals and their detail row, in the session's transaction."""
    row = session.execute(_guarded_update(posting)).one_or_none()
    if row is None:
        _raise_refusal(session, posting)
    seq_num, qoh, atp, acc = row
    seq_id = posting.detail_seq_id or format_seq(seq_num)
    session.execute(insert(DETAIL).values(_detail_values(posting, seq_num, seq_id)))
    _expire_loaded_item(session, posting)
    return Posted(posting.facility_id, posting.inventory_item_id, seq_id, qoh, atp, acc)


def post_many(session: Session, postings: Iterable[Posting]) -> list[Posted]:
    """Apply postings in the order given (callers sort by item id to keep lock order)."""
    return [post(session, p) for p in postings]


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
    return stmt


def _numeric_seq(seq_id: str | None) -> int | None:
    return int(seq_id) if seq_id is not None and seq_id.isdigit() else None


def _detail_values(p: Posting, seq_num: int, seq_id: str) -> dict[str, object]:
    links = {f.name: getattr(p.links, f.name) for f in fields(Links)}
    return {
        "facility_id": p.facility_id,
        "inventory_item_id": p.inventory_item_id,
        "inventory_item_detail_seq_id": seq_id,
        "seq_num": seq_num,
        "effective_date": p.effective_date or utcnow(),
        "quantity_on_hand_diff": p.quantity_on_hand_diff,
        "available_to_promise_diff": p.available_to_promise_diff,
        "accounting_quantity_diff": p.accounting_diff,
        "reason_enum_id": p.reason_enum_id,
        "created_stamp": utcnow(),
        **links,
    }


def _raise_refusal(session: Session, p: Posting) -> NoReturn:
    atp = session.execute(
        select(ITEM.c.available_to_promise_total).where(
            ITEM.c.facility_id == p.facility_id, ITEM.c.inventory_item_id == p.inventory_item_id
        )
    ).scalar_one_or_none()
    if atp is None:
        raise NotFound(f"Inventory item {p.inventory_item_id} not found in facility {p.facility_id}")
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
