"""The hot entry: one order item (POST /v1/reservations) as the ledger's one statement, sent
alone in autocommit (PostgreSQL), from a worker thread or on the event loop. No row: nothing
was written, and the caller's transaction decides (reservations/api.py: the request's)."""

from stockledger.core.db import Database
from stockledger.core.scope import FacilityScoped, check_scope
from stockledger.ledger.sole_item_pg import post_sole_item_alone, post_sole_item_alone_async
from stockledger.reservations.lines import (
    ReserveLine,
    ReserveOutcome,
    check_lines,
    sole_item,
    sole_item_outcome,
)
from stockledger.reservations.rules import ALL_OR_NOTHING, require_fill


def reserve_alone(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
) -> ReserveOutcome | None:
    """The line from its product's sole item in one statement committed alone, for `principal`;
    None: not a sole item that covers the line, nothing written."""
    user = _checked_user(db, facility_id, line, fill, principal)
    item = post_sole_item_alone(db, sole_item(order_id, facility_id, line, fill), user)
    return None if item is None else sole_item_outcome(order_id, facility_id, fill, line, item)


async def reserve_line_async(
    db: Database,
    order_id: str,
    facility_id: str,
    line: ReserveLine,
    fill: str = ALL_OR_NOTHING,
    principal: FacilityScoped | None = None,
) -> ReserveOutcome | None:
    """`reserve_alone` on the event loop (PostgreSQL, the async pool open). None: not a sole
    item that covers the line, nothing written: the caller takes the transaction path in a
    worker thread (reservations/api.py)."""
    user = _checked_user(db, facility_id, line, fill, principal)
    item = await post_sole_item_alone_async(db, sole_item(order_id, facility_id, line, fill), user)
    return None if item is None else sole_item_outcome(order_id, facility_id, fill, line, item)


def _checked_user(
    db: Database, facility_id: str, line: ReserveLine, fill: str, principal: FacilityScoped | None
) -> str | None:
    """Who reserves alone, once the fill, the line and the caller's facility scope are checked
    (a Session's path checks them as it goes)."""
    require_fill(fill)
    check_lines([line])
    check_scope(principal, facility_id)
    return principal.login_id if principal is not None else db.user
