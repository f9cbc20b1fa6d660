"""fenced_nextval: on PostgreSQL, the outbox fence and the event number in one function call

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:40:00

core/fence.py explains the fence: a shared advisory lock keyed by the sequence's last value,
held before the transaction takes a number. Raised by a statement of its own it cost a round
trip per transaction; inside this function it is taken right before `nextval`, in that order,
by the same call, so an INSERT can take its number and raise its fence at once.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FENCE_BASE = 0x53544B4C << 32  # core.fence.FENCE_BASE (a test checks they agree)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite serialises writers: its numbers come in commit order
    op.execute(
        f"""
        CREATE FUNCTION stockledger_fenced_nextval(seq regclass) RETURNS bigint
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared({FENCE_BASE} + coalesce(pg_sequence_last_value(seq), 0));
            RETURN nextval(seq);
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION stockledger_fenced_nextval(regclass)")
