"""Test helpers for facility scope: tokens, and a second facility with stock of its own."""

from sqlalchemy import text

from stockledger.auth import service
from stockledger.core.db import Database
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory


def bearer(db: Database, role: str, facilities: list[str] | None = None) -> dict[str, str]:
    """Headers of a new token of `role`, scoped to `facilities` (None: every facility)."""
    with db.transaction() as session:
        token = service.create_token(session, role, facilities).token
    return {"Authorization": f"Bearer {token}"}


def second_facility(db: Database) -> None:
    """FACILITY_2 with FG001 (7 on hand) and FG002 (3), set by an ERP reset of its own."""
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                "VALUES ('FACILITY_2', 'FIFO', '2026-01-01')"
            )
        )
    lines = [RawLine(2, "FACILITY_2", "FG001", "7"), RawLine(3, "FACILITY_2", "FG002", "3")]
    with db.transaction() as session:
        reset_inventory(session, lines, "FACILITY_2 stock")
