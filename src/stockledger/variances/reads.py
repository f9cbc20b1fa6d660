"""Reads of the variance reason codes (reference data, the same for every facility)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.ledger.models import VarianceReason


def variance_reasons(session: Session, after: str | None, limit: int) -> list[VarianceReason]:
    """The reasons a variance or a count may give, by varianceReasonId."""
    stmt = select(VarianceReason).order_by(VarianceReason.variance_reason_id).limit(limit)
    if after is not None:
        stmt = stmt.where(VarianceReason.variance_reason_id > after)
    return list(session.scalars(stmt))
