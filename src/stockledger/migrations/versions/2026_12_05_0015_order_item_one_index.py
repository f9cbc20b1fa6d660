"""order_item: one index, led by the order item

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 21:20:00

Every reservation writes an order_item row (its first use) and reads the order item's rows in
every facility (the one-product guard). With the primary key led by facility_id, the read needed
a second index (ix_order_item_order_item), so each first use wrote two index entries. The
primary key is now (order_id, order_item_seq_id, facility_id): it still decides between two
concurrent first uses in a facility and serves the guard's read alone, so the second index goes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = ["order_id", "order_item_seq_id", "facility_id"]
_OLD = ["facility_id", "order_id", "order_item_seq_id"]


def upgrade() -> None:
    _primary_key(_NEW)
    op.drop_index("ix_order_item_order_item", table_name="order_item")


def downgrade() -> None:
    op.create_index("ix_order_item_order_item", "order_item", ["order_id", "order_item_seq_id"])
    _primary_key(_OLD)


def _primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite: the table is copied with its new key
        with op.batch_alter_table("order_item", recreate="always") as batch:
            batch.drop_constraint("pk_order_item", type_="primary")
            batch.create_primary_key("pk_order_item", columns)
        return
    # Two statements (in the migration's transaction): Citus refuses an ALTER TABLE of a
    # distributed table that adds a constraint together with other subcommands.
    op.execute("ALTER TABLE order_item DROP CONSTRAINT pk_order_item")
    op.execute(f"ALTER TABLE order_item ADD CONSTRAINT pk_order_item PRIMARY KEY ({', '.join(columns)})")
