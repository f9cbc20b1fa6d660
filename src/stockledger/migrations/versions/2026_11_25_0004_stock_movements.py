"""stock_movements: look-ups of reservations by order item, for release, rejection and pick lists

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:00:00

No new tables: reservations, receipts and cost layers exist since 0001. Release, rejection and
the pick list find an order's reservations by orderId (the facility may be unknown to the caller).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_reservation_order_item",
        "order_item_inventory_reservation",
        ["order_id", "order_item_seq_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reservation_order_item", table_name="order_item_inventory_reservation")
