"""events_idempotency: idempotency keys, publisher position, inbound message dedup

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("request_method", sa.String(length=10), nullable=False),
        sa.Column("request_path", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_content_type", sa.String(length=255), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "idempotency_key", name=op.f("pk_idempotency_key")),
    )
    op.create_index("ix_idempotency_key_expires_at", "idempotency_key", ["expires_at"], unique=False)
    op.create_table(
        "publisher_position",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("publisher_name", sa.String(length=120), nullable=False),
        sa.Column("last_event_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "publisher_name", name=op.f("pk_publisher_position")),
    )
    op.create_table(
        "processed_message",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("message_type", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("processed_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "message_id", name=op.f("pk_processed_message")),
    )


def downgrade() -> None:
    op.drop_table("processed_message")
    op.drop_table("publisher_position")
    op.drop_index("ix_idempotency_key_expires_at", table_name="idempotency_key")
    op.drop_table("idempotency_key")
