"""idempotency_per_token: an Idempotency-Key belongs to the token that sent it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00

Keys were scoped per facility only, so one token could be replayed another token's stored answer.
The primary key becomes (facility_id, token_id, idempotency_key): facility first, still the
distribution column for Citus. The stored answers are dropped, not migrated: their token is
unknown, and replaying them to any token is what this revision stops. They are at most 24 hours
old; a retry of one after the upgrade runs afresh (as after `stockledger idempotency purge`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _recreate(with_token=True)


def downgrade() -> None:
    _recreate(with_token=False)


def _recreate(with_token: bool) -> None:
    op.drop_index("ix_idempotency_key_expires_at", table_name="idempotency_key")
    op.drop_table("idempotency_key")
    token = [sa.Column("token_id", sa.String(length=60), nullable=False)] if with_token else []
    key = ["facility_id", *(["token_id"] if with_token else []), "idempotency_key"]
    op.create_table(
        "idempotency_key",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        *token,
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("request_method", sa.String(length=10), nullable=False),
        sa.Column("request_path", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_content_type", sa.String(length=255), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_idempotency_key")),
    )
    op.create_index("ix_idempotency_key_expires_at", "idempotency_key", ["expires_at"], unique=False)
