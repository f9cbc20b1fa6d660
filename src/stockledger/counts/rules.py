"""Pure rules of a cycle count: the variances to post and the reason they carry."""

from decimal import Decimal

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
