"""Rejection modes (SPEC §5) without a database: what each takes after the release."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from stockledger.core.errors import Conflict, ValidationFailed
from stockledger.core.fixed import ZERO

ONE = Decimal(1)


class RejectionMode(StrEnum):
    """How rejectOrderItem takes the units it rejects (MODES)."""

    RELEASE = "RELEASE"
    ATP_ONE = "ATP_ONE"
    ATP_QOH_ONE = "ATP_QOH_ONE"
    ATP_ALL = "ATP_ALL"
    ATP_QOH_ALL = "ATP_QOH_ALL"


# mode -> (reduces QOH too, takes the rejected quantity instead of one unit); None: release only
MODES: dict[str, tuple[bool, bool] | None] = {
    "RELEASE": None,
    "ATP_ONE": (False, False),
    "ATP_QOH_ONE": (True, False),
    "ATP_ALL": (False, True),
    "ATP_QOH_ALL": (True, True),
}


@dataclass(frozen=True, slots=True)
class Take:
    """Units taken from one item by the rejection: ATP − quantity, and QOH − quantity if `qoh`."""

    inventory_item_id: str
    quantity: Decimal
    qoh: bool


def require_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationFailed(f"rejectionMode must be one of {', '.join(MODES)}", rejectionMode=mode)
    return mode


def rejected_quantity(mode: str, quantity: Decimal | None, reserved: Decimal) -> Decimal:
    """ONE modes take one unit; ALL modes the given quantity, else what was reserved."""
    effect = MODES[mode]
    if effect is None:
        return ZERO
    if not effect[1]:
        return ONE
    chosen = reserved if quantity is None else quantity
    if chosen <= 0:
        raise Conflict(  # the request is well formed; the order item's state does not allow it
            f"{mode} needs a positive quantity (the order item had none reserved)", rejectionMode=mode
        )
    return chosen


def spread(mode: str, total: Decimal, reserved: Sequence[tuple[str, Decimal]]) -> list[Take]:
    """Take `total` from the reserved items in order, each up to what it held; the rest from the last."""
    effect = MODES[mode]
    if effect is None or total <= 0 or not reserved:
        return []
    takes: list[Take] = []
    left = total
    for index, (item_id, held) in enumerate(reserved):
        last = index == len(reserved) - 1
        part = left if last else min(left, held)
        if part > 0:
            takes.append(Take(item_id, part, effect[0]))
            left -= part
        if left <= 0:
            break
    return takes
