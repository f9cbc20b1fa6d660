"""Pure rules of a cycle count: the variances to post and the reason they carry."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from stockledger.core.fixed import ZERO
from stockledger.core.model_base import as_utc

FOUND = "VAR_FOUND"
LOST = "VAR_LOST"
_LATEST = datetime.max.replace(tzinfo=UTC)


def count_variances(
    counted: Decimal, current_qoh: Decimal, current_atp: Decimal, reserved: Decimal
) -> tuple[Decimal, Decimal]:
    """(QOH var, ATP var): QOH becomes the counted quantity, ATP the counted minus what is reserved."""
    return counted - current_qoh, (counted - reserved) - current_atp


def variance_reason(qoh_var: Decimal, atp_var: Decimal, given: str | None) -> str | None:
    """The reason given, else found or lost by the sign of the QOH (then ATP) variance; None if none."""
    if given is not None:
        return given
    moved = qoh_var or atp_var
    if moved > 0:
        return FOUND
    if moved < 0:
        return LOST
    return None


@dataclass(frozen=True, slots=True)
class ItemLevel:
    """A sellable item's totals and the units actively reserved on it, read under lock."""

    inventory_item_id: str
    quantity_on_hand: Decimal
    available_to_promise: Decimal
    reserved: Decimal
    expire_date: datetime | None = None
    datetime_received: datetime | None = None


def product_count_variances(
    counted: Decimal, levels: Sequence[ItemLevel], into: str
) -> dict[str, tuple[Decimal, Decimal]]:
    """(QOH var, ATP var) per sellable item for a count by product: Σ QOH becomes `counted` with
    no item below zero (counted_quantities), and every item's ATP becomes its QOH − its
    reservations (reserved units never vanish). `into` missing from `levels`: a new, empty item.
    `levels` are the promisable items only (counts/sellable.py): held and expired stay as they are."""
    if all(level.inventory_item_id != into for level in levels):
        levels = [*levels, ItemLevel(into, ZERO, ZERO, ZERO)]
    after = counted_quantities(counted, shortage_order(levels, into), into)
    return {
        level.inventory_item_id: count_variances(
            after[level.inventory_item_id],
            level.quantity_on_hand,
            level.available_to_promise,
            level.reserved,
        )
        for level in levels
    }


def shortage_order(levels: Sequence[ItemLevel], into: str) -> list[ItemLevel]:
    """The order a shortage is taken in: `into` (the facility item, where SPEC §4 writes a
    product-level difference), then the others FEFO (the order picking empties them, so an
    unrecorded issue most likely came from the earliest-expiring units)."""

    def key(level: ItemLevel) -> tuple[bool, bool, datetime, bool, datetime, str]:
        expires = as_utc(level.expire_date) if level.expire_date is not None else None
        received = as_utc(level.datetime_received) if level.datetime_received is not None else None
        return (
            level.inventory_item_id != into,
            expires is None,
            expires or _LATEST,
            received is None,
            received or _LATEST,
            level.inventory_item_id,
        )

    return sorted(levels, key=key)


def counted_quantities(counted: Decimal, ordered: Sequence[ItemLevel], into: str) -> dict[str, Decimal]:
    """Each item's QOH after a count of `counted`: an item below zero is first set to zero; a
    surplus goes to `into`; a shortage is taken from the items in their order (shortage_order),
    from units nobody reserved first and then from reserved ones, each item at most down to zero."""
    after = {level.inventory_item_id: max(level.quantity_on_hand, ZERO) for level in ordered}
    difference = counted - sum(after.values(), ZERO)
    if difference >= 0:
        after[into] += difference
        return after
    short = -difference
    for keep_reserved in (True, False):
        for level in ordered:
            floor = min(max(level.reserved, ZERO), after[level.inventory_item_id]) if keep_reserved else ZERO
            take = min(short, after[level.inventory_item_id] - floor)
            after[level.inventory_item_id] -= take
            short -= take
    return after
