"""Reservation rules without a database: FEFO order, spreading a line over items, fill policies."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from stockledger.core.errors import ValidationFailed
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import as_utc

ALL_OR_NOTHING, PARTIAL, BACKORDER = "ALL_OR_NOTHING", "PARTIAL", "BACKORDER"
FILL_POLICIES = (ALL_OR_NOTHING, PARTIAL, BACKORDER)
RES_ACTIVE, RES_CANCELLED, RES_FULFILLED = "RES_ACTIVE", "RES_CANCELLED", "RES_FULFILLED"
INV_AVAILABLE = "INV_AVAILABLE"
RESERVE_REASON, RELEASE_REASON = "RESERVATION", "RESERVATION_RELEASE"
_LATEST = datetime.max
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An INV_AVAILABLE item a line may reserve from, with its ATP when it was locked."""

    inventory_item_id: str
    product_id: str
    lot_id: str | None
    available_to_promise: Decimal
    expire_date: datetime | None
    datetime_received: datetime | None


@dataclass(slots=True)
class Take:
    """Units of one line promised from one item; `not_available` of them are backordered."""

    inventory_item_id: str
    quantity: Decimal
    not_available: Decimal = ZERO


@dataclass(slots=True)
class Allocation:
    """How one line is covered: the takes, what was short, what was there when planned."""

    takes: list[Take] = field(default_factory=list)
    available: Decimal = ZERO
    short: Decimal = ZERO


def fefo_key(c: Candidate) -> tuple[bool, datetime, bool, datetime, str]:
    """Earliest expiry first (no expiry last), then oldest receipt, then item id."""
    return (
        c.expire_date is None,
        c.expire_date or _LATEST,
        c.datetime_received is None,
        c.datetime_received or _LATEST,
        c.inventory_item_id,
    )


def promisable(
    status_id: str, expire_date: datetime | None, now: datetime, allow_expired: bool = False
) -> bool:
    """Can a new reservation take this item's ATP now (SPEC §11)? INV_AVAILABLE and not expired
    (no expireDate, or one later than `now`); an expired lot only when the request allows it."""
    if status_id != INV_AVAILABLE:
        return False
    return allow_expired or expire_date is None or as_utc(expire_date) > as_utc(now)


def usable(c: Candidate, now: datetime, allow_expired: bool) -> bool:
    """A locked candidate (INV_AVAILABLE already) a line may take from."""
    return promisable(INV_AVAILABLE, c.expire_date, now, allow_expired)


def require_fill(fill: str) -> str:
    if fill not in FILL_POLICIES:
        raise ValidationFailed(f"fill must be one of {', '.join(FILL_POLICIES)}", fill=fill)
    return fill


def allocate(
    candidates: Sequence[Candidate],
    remaining: dict[str, Decimal],
    quantity: Decimal,
    limit: Decimal | None = None,
) -> Allocation:
    """Spread `quantity` over the candidates in the order given; `remaining` (ATP left per item,
    shared by every line of the order) is reduced by what is taken. `limit`: the product's net
    promisable ATP; never more than it is taken, and it caps (or, negative, is) `available`."""
    result = Allocation()
    need = quantity if limit is None else min(quantity, max(limit, ZERO))
    for c in candidates:
        left = remaining[c.inventory_item_id]
        if left <= 0:
            continue
        result.available += left
        if need > 0:
            taken = min(left, need)
            result.takes.append(Take(c.inventory_item_id, taken))
            remaining[c.inventory_item_id] = left - taken
            need -= taken
    if limit is not None:
        result.available = min(result.available, limit)
    result.short = quantity - sum((t.quantity for t in result.takes), ZERO)
    return result


def add_backorder(allocation: Allocation, item_id: str) -> None:
    """BACKORDER: the short part is promised anyway, from `item_id`, as not available."""
    short = allocation.short
    if short <= 0:
        return
    for take in allocation.takes:
        if take.inventory_item_id == item_id:
            take.quantity += short
            take.not_available += short
            break
    else:
        allocation.takes.append(Take(item_id, short, short))
    allocation.short = ZERO


def chunks(rows: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
