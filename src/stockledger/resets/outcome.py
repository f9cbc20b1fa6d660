"""What an ERP reset run learnt (its counts, failed lines, first changes) and the rows that record
the run: its audit row, its stored failures and its InventoryReset event. Shared by the two ways
of applying a reset (resets/service.py line batches, resets/set_based.py in the database)."""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.model_base import utcnow
from stockledger.events.outbox import record_event
from stockledger.ledger.models import ExternalInventoryReset
from stockledger.resets.failures import ALL_FACILITIES, store_failures
from stockledger.resets.rules import LineFailure

REASON = "VAR_EXT_RESET"


@dataclass(frozen=True, slots=True)
class ResetChange:
    """A line that changed stock: the facility item's QOH and ATP right after it."""

    line: int
    facility_id: str
    product_id: str
    diff: Decimal
    quantity_on_hand_total: Decimal
    available_to_promise_total: Decimal


@dataclass
class ResetOutcome:
    inventory_reset_id: str
    source: str | None
    lines_total: int = 0
    lines_changed: int = 0
    lines_unchanged: int = 0
    lines_failed: int = 0
    failures: list[LineFailure] = field(default_factory=list)  # the first `keep_failures`
    stored_failures: list[LineFailure] = field(default_factory=list)  # the first STORED_FAILURES
    facilities: set[str] = field(default_factory=set)
    changes: list[ResetChange] = field(default_factory=list)  # the first `keep_changes`
    keep_changes: int = 0


def record_run(session: Session, outcome: ResetOutcome) -> None:
    """The audit row (with who ran it, core.actor), its first failed lines and the InventoryReset
    event of the run."""
    single = next(iter(outcome.facilities)) if len(outcome.facilities) == 1 else None
    counts = {
        "lines_total": outcome.lines_total,
        "lines_changed": outcome.lines_changed,
        "lines_unchanged": outcome.lines_unchanged,
        "lines_failed": outcome.lines_failed,
    }
    session.execute(
        insert(ExternalInventoryReset).values(
            inventory_reset_id=outcome.inventory_reset_id,
            facility_id=single,
            source=outcome.source,
            created_by_user_login_id=acting_user(session),
            created_stamp=utcnow(),
            **counts,
        )
    )
    store_failures(session, single, outcome.inventory_reset_id, outcome.stored_failures)
    payload = {
        "inventoryResetId": outcome.inventory_reset_id,
        "facilityId": single,
        "facilityIds": sorted(outcome.facilities),
        "source": outcome.source,
        "linesTotal": outcome.lines_total,
        "linesChanged": outcome.lines_changed,
        "linesUnchanged": outcome.lines_unchanged,
        "linesFailed": outcome.lines_failed,
    }
    record_event(session, single or ALL_FACILITIES, "InventoryReset", payload)
