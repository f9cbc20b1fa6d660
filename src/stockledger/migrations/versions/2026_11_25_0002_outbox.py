"""outbox: the transactional outbox of business events, and sequence counters for SQLite

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "event_seq", name=op.f("pk_outbox_event")),
    )
    op.create_index("ix_outbox_event_seq", "outbox_event", ["event_seq"], unique=False)
    op.create_table(
        "sequence_value",
        sa.Column("sequence_name", sa.String(length=60), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sequence_name", name=op.f("pk_sequence_value")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE outbox_event_seq")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE outbox_event_seq")
    op.drop_table("sequence_value")
    op.drop_index("ix_outbox_event_seq", table_name="outbox_event")
    op.drop_table("outbox_event")
