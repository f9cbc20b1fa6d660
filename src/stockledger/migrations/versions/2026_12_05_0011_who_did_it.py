"""who_did_it: a token's user, and who made a count, a variance and an inspection

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 09:00:00

A token acts for a user (`stockledger token create --user`); rows written with it record that
user in `change_by_user_login_id` (OFBiz's changeByUserLoginId) or the OFBiz column of the
same meaning where the table has one (receivedByUserLoginId, createdByUserLoginId).
Tokens created before this migration act for their id.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHO = "change_by_user_login_id"
TABLES = ("physical_inventory", "inventory_item_variance", "return_item")


def upgrade() -> None:
    with op.batch_alter_table("api_token") as table:
        table.add_column(sa.Column("user_login_id", sa.String(length=60), nullable=True))
    op.execute("UPDATE api_token SET user_login_id = token_id")
    for name in TABLES:
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column(WHO, sa.String(length=60), nullable=True))


def downgrade() -> None:
    for name in reversed(TABLES):
        with op.batch_alter_table(name) as table:
            table.drop_column(WHO)
    with op.batch_alter_table("api_token") as table:
        table.drop_column("user_login_id")
