"""What the ledger posts: typed postings, the rows they become, and the rules every way of
writing them shares (the detail seq id's format, the detail row's values, a refusal's error).

Every change of an item's totals is a posting; each becomes the item's new totals and one
InventoryItemDetail row, in the caller's transaction, so for every item: totals == sum of its
detail diffs. ledger/post.py is the door callers post through.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import NoReturn, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from stockledger.core.errors import InsufficientStock, NegativeStock, NotFound
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
    """One change of one item. `require_atp` refuses it if ATP would go below zero, `require_qoh`
    if QOH would: checked in the same guarded UPDATE, not read before it, whichever way the
    ledger writes it (`guards` below is the one rule every way applies)."""

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
    require_qoh: bool = False

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


SEQ_DIGITS = 5  # a detail's seq id: its number, zero-padded to five digits, more when needed


def format_seq(number: int) -> str:
    """The detail seq id of detail number `number` (ledger/postings_pg.py's `format_seq_sql`:
    the same, in SQL)."""
    return f"{number:0{SEQ_DIGITS}d}"


# An item as read under its row lock: QOH, ATP, accounting quantity, last_detail_seq
LockedItem = tuple[Decimal, Decimal, Decimal, int]

DETAIL_COLUMNS = (
    "facility_id",
    "inventory_item_id",
    "inventory_item_detail_seq_id",
    "seq_num",
    "effective_date",
    "quantity_on_hand_diff",
    "available_to_promise_diff",
    "accounting_quantity_diff",
    "reason_enum_id",
    "created_stamp",
    *(f.name for f in fields(Links)),
)


def numeric_seq(seq_id: str | None) -> int | None:
    return int(seq_id) if seq_id is not None and seq_id.isdigit() else None


LINK_NAMES = tuple(f.name for f in fields(Links))  # dataclasses.fields() per call cost ≈ 5 µs


def detail_values(
    p: Posting, seq_num: int, seq_id: str, now: datetime | None = None, user: str | None = None
) -> dict[str, object]:
    """The detail row of a posting; `user` (the session's, core.actor) unless its links name one."""
    now = now or utcnow()
    links = {name: getattr(p.links, name) for name in LINK_NAMES}
    if links["change_by_user_login_id"] is None:
        links["change_by_user_login_id"] = user
    return {
        "facility_id": p.facility_id,
        "inventory_item_id": p.inventory_item_id,
        "inventory_item_detail_seq_id": seq_id,
        "seq_num": seq_num,
        "effective_date": p.effective_date or now,
        "quantity_on_hand_diff": p.quantity_on_hand_diff,
        "available_to_promise_diff": p.available_to_promise_diff,
        "accounting_quantity_diff": p.accounting_diff,
        "reason_enum_id": p.reason_enum_id,
        "created_stamp": now,
        **links,
    }


QOH, ATP = "quantity_on_hand_total", "available_to_promise_total"


def guards(p: Posting) -> dict[str, Decimal]:
    """The totals `p` may not take below zero, each with its diff: QOH under `require_qoh`,
    ATP under `require_atp`, each only when the diff takes from it. The one rule of every way
    the ledger writes a posting (ledger/single.py's WHERE clauses, ledger/batch.py's fold and
    its array UPDATE's floors): the same posting gets the same answer whichever is chosen."""
    found: dict[str, Decimal] = {}
    if p.require_qoh and p.quantity_on_hand_diff < 0:
        found[QOH] = p.quantity_on_hand_diff
    if p.require_atp and p.available_to_promise_diff < 0:
        found[ATP] = p.available_to_promise_diff
    return found


def refused_total(p: Posting, totals: Mapping[str, Decimal]) -> str | None:
    """The first total (QOH, then ATP) a guard of `p` finds below zero after it, `totals` being
    the item's before it; None: `p` passes."""
    for total, diff in guards(p).items():
        if totals[total] + diff < 0:
            return total
    return None


def raise_refusal(session: Session, p: Posting, earlier: Sequence[Posting] = ()) -> NoReturn:
    """The error of a refused posting, from the item's totals as stored plus `earlier` (postings
    on the item before `p` that are not written yet)."""
    found = session.execute(
        select(ITEM.c.quantity_on_hand_total, ITEM.c.available_to_promise_total).where(
            ITEM.c.facility_id == p.facility_id, ITEM.c.inventory_item_id == p.inventory_item_id
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"Inventory item {p.inventory_item_id} not found in facility {p.facility_id}")
    qoh = found[0] + sum((e.quantity_on_hand_diff for e in earlier), ZERO)
    atp = found[1] + sum((e.available_to_promise_diff for e in earlier), ZERO)
    if refused_total(p, {QOH: qoh, ATP: atp}) == QOH:
        raise NegativeStock(
            f"Inventory item {p.inventory_item_id} has {qoh} on hand; {p.quantity_on_hand_diff} "
            "would take it below zero",
            inventoryItemId=p.inventory_item_id,
            quantityOnHandTotal=qoh,
            quantityOnHandDiff=p.quantity_on_hand_diff,
        )
    raise InsufficientStock(
        f"Inventory item {p.inventory_item_id} has {atp} available to promise; "
        f"{-p.available_to_promise_diff} requested",
        inventoryItemId=p.inventory_item_id,
        available=atp,
        requested=-p.available_to_promise_diff,
    )


def expire_loaded_item(session: Session, p: Posting) -> None:
    """An InventoryItem already loaded in this session now has stale totals."""
    key = identity_key(InventoryItem, (p.facility_id, p.inventory_item_id))
    loaded = session.identity_map.get(key)
    if loaded is not None:
        session.expire(loaded, [*TOTALS, "last_detail_seq"])


def expire_loaded_items(session: Session, keys: set[tuple[str, str]]) -> None:
    if not session.identity_map:  # a bulk caller loads no item: skip building 10,000 identity keys
        return
    for key in keys:
        loaded = session.identity_map.get(identity_key(InventoryItem, key))
        if loaded is not None:
            session.expire(loaded, [*TOTALS, "last_detail_seq"])
