"""Pure rules of a cycle count: the variances to post and the reason they carry."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from stockledger.core.fixed import ZERO

FOUND = "VAR_FOUND"
LOST = "VAR_LOST"


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


def product_count_variances(
    counted: Decimal, levels: Sequence[ItemLevel], into: str
) -> dict[str, tuple[Decimal, Decimal]]:
    """(QOH var, ATP var) per sellable item for a count by product: Σ QOH becomes `counted`, the
    difference going to the item `into`; every item's ATP becomes its QOH − its reservations
    (reserved units never vanish). `into` missing from `levels`: a new, empty item."""
    if all(level.inventory_item_id != into for level in levels):
        levels = [*levels, ItemLevel(into, ZERO, ZERO, ZERO)]
    difference = counted - sum((level.quantity_on_hand for level in levels), ZERO)
    variances = {}
    for level in levels:
        qoh_var = difference if level.inventory_item_id == into else ZERO
        variances[level.inventory_item_id] = count_variances(
            level.quantity_on_hand + qoh_var,
            level.quantity_on_hand,
            level.available_to_promise,
            level.reserved,
        )
    return variances
