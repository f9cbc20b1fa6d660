"""Facility scope, enforced where rows are written and read, not only where requests arrive.

The auth middleware refuses a request that names a facility its token may not touch. A
request can also reach a facility without naming it (a shipment id, an inventory item id):
so the ledger write path, the outbox and every ORM flush check the session's principal too,
and a write to another facility rolls the whole transaction back with a 403.
"""

from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from stockledger.core.actor import bind_user
from stockledger.core.errors import Forbidden

PRINCIPAL = "principal"


class FacilityScoped(Protocol):
    @property
    def login_id(self) -> str: ...

    def may_touch(self, facility_id: str) -> bool: ...


def bind_principal(session: Session, principal: FacilityScoped | None) -> None:
    """The caller the session acts for: its facility scope, and its user on every row written."""
    session.info[PRINCIPAL] = principal
    if principal is not None:
        bind_user(session, principal.login_id)


def may_see(session: Session, facility_id: str) -> bool:
    """Whether the session's caller (if any) may read or write `facility_id`."""
    principal: FacilityScoped | None = session.info.get(PRINCIPAL)
    return principal is None or principal.may_touch(facility_id)


def facilities_in_scope(session: Session) -> frozenset[str] | None:
    """The facilities the session's caller may see, or None for all (no principal, or an unscoped token).

    For list reads that name no facility: they filter by this instead of checking one id.
    """
    principal: FacilityScoped | None = session.info.get(PRINCIPAL)
    facilities = getattr(principal, "facilities", None)
    return None if facilities is None else frozenset(facilities)


def check_facility(session: Session, facility_id: str) -> None:
    """Raise Forbidden if the session acts for a caller who may not touch `facility_id`."""
    check_scope(session.info.get(PRINCIPAL), facility_id)


def check_scope(principal: FacilityScoped | None, facility_id: str) -> None:
    """Raise Forbidden if `principal` (None: no caller, the CLI) may not touch `facility_id`:
    check_facility for work done without a Session (Database.run_alone)."""
    if principal is not None and not principal.may_touch(facility_id):
        raise Forbidden(f"This token may not act on facility {facility_id}", facilityId=facility_id)


def check_owner(session: Session, facility_id: str, what: str, **ids: str) -> None:
    """Raise Forbidden if the session's caller may not touch a row of `facility_id`, naming only
    `what` the caller asked for: never the row's facility or anything else it holds."""
    if not may_see(session, facility_id):
        raise Forbidden(f"This token may not act on {what}", **ids)


@event.listens_for(Session, "before_flush")
def _check_flushed_rows(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(PRINCIPAL) is None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        facility_id = getattr(obj, "facility_id", None)
        if isinstance(facility_id, str):
            check_facility(session, facility_id)
