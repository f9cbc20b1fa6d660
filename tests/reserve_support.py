"""One order item written as POST /v1/reservations writes it, for tests without a request: the
test is the entry point, so it owns the transaction (docs/architecture.md, Transactions)."""

from stockledger.core.db import Database
from stockledger.core.scope import FacilityScoped, bind_principal
from stockledger.core.transactions import command_transaction
from stockledger.reservations.rules import ALL_OR_NOTHING
from stockledger.reservations.service import ReserveLine, ReserveOutcome, reserve_alone, reserve_stock


def reserve_line(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
    sole_item_tried: bool = False,
) -> ReserveOutcome:
    """Where the database runs a change alone (PostgreSQL), and unless `sole_item_tried`: the
    one statement in autocommit when the product's sole item covers the line. Otherwise
    `reserve_stock` in a transaction of its own, which decides, nothing having been written; on
    Citus (no change runs alone) it tries the sole item first, in steps, unless `sole_item_tried`."""
    if db.runs_alone and not sole_item_tried:
        outcome = reserve_alone(db, order_id, facility_id, line, fill, principal)
        if outcome is not None:
            return outcome
    tried = db.runs_alone or sole_item_tried
    with command_transaction(db) as session:
        bind_principal(session, principal)
        return reserve_stock(session, order_id, facility_id, [line], fill, try_sole_item=not tried)
