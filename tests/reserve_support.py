"""One order item written as POST /v1/reservations without an Idempotency-Key writes it, for
tests without a request: the test is the entry point, so it owns the transaction
(docs/architecture.md, Transactions) and hands the service how to open it."""

from stockledger.core.db import Database
from stockledger.core.scope import FacilityScoped
from stockledger.core.transactions import command_transaction
from stockledger.reservations import service
from stockledger.reservations.rules import ALL_OR_NOTHING
from stockledger.reservations.service import ReserveLine, ReserveOutcome


def reserve_line(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
) -> ReserveOutcome:
    """reservations.service.reserve_line, in a transaction of the test's own when it needs one."""
    return service.reserve_line(
        db, order_id, facility_id, line, fill, principal, open_transaction=lambda: command_transaction(db)
    )
