"""A reset run's failed lines, stored with the run: written in its transaction, read by page.

A run stores its first STORED_FAILURES failed lines (in line order); `linesFailed` counts them
all. A file of a million bad lines thus writes a thousand rows, not a million, in one
multi-row INSERT (set-based: no round trip per line).
"""

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from stockledger.ledger.models import ExternalInventoryReset
from stockledger.resets.models import ExternalInventoryResetFailure
from stockledger.resets.rules import LineFailure

STORED_FAILURES = 1_000
ALL_FACILITIES = "_ALL"  # the key of a run spanning facilities (or none): its event's, its failures'
MESSAGE_MAX = 1000  # the column's length


def run_key(facility_id: str | None) -> str:
    """The facility a run's rows are kept under: its one facility, else ALL_FACILITIES."""
    return facility_id or ALL_FACILITIES


def store_failures(
    session: Session, facility_id: str | None, inventory_reset_id: str, failures: list[LineFailure]
) -> None:
    """The run's first failed lines, in one multi-row INSERT (nothing when there are none)."""
    if not failures:
        return
    key = run_key(facility_id)
    # Core on the connection (not the ORM's bulk path): one multi-row INSERT per 1,000 rows
    session.connection().execute(
        insert(ExternalInventoryResetFailure),
        [
            {
                "facility_id": key,
                "inventory_reset_id": inventory_reset_id,
                "line_number": f.line,
                "code": f.code,
                "message": f.message[:MESSAGE_MAX],
                "line_facility_id": f.facility_id,
                "product_id": f.product_id,
            }
            for f in failures[:STORED_FAILURES]
        ],
    )


def reset_failures(
    session: Session, run: ExternalInventoryReset, after_line: int | None, limit: int
) -> list[LineFailure]:
    """The stored failed lines of `run` (already checked against the caller's scope), by line."""
    f = ExternalInventoryResetFailure
    stmt = (
        select(f.line_number, f.code, f.message, f.line_facility_id, f.product_id)
        .where(f.facility_id == run_key(run.facility_id), f.inventory_reset_id == run.inventory_reset_id)
        .order_by(f.line_number)
        .limit(limit)
    )
    if after_line is not None:
        stmt = stmt.where(f.line_number > after_line)
    return [LineFailure(*row) for row in session.execute(stmt)]
