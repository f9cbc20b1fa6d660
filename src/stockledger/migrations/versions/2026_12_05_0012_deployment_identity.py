"""deployment_identity: the id the publisher stamps on its NATS messages

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:00:00

A message of another deployment on a shared stream (its Nats-Msg-Id 1000000) moved the publisher's
position to 1,000,000 and silenced it. Messages now carry `<deploymentId>:<eventSeq>`, and the
publisher trusts only its own. A small reference table (one row).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment_identity",
        sa.Column("identity_name", sa.String(length=30), nullable=False),
        sa.Column("deployment_id", sa.String(length=40), nullable=False),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("identity_name", name=op.f("pk_deployment_identity")),
    )


def downgrade() -> None:
    op.drop_table("deployment_identity")
