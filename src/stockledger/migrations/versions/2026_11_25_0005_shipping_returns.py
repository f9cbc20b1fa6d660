"""shipping_returns: look-ups by order item and by return id for shipping, costing and returns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:00:00

No new tables: shipments, issuances, cost layers and returns exist since 0001. These indexes
serve the reads that are not keyed by facility: a return finds the original issuances (COGS)
of its order item in any facility, and routes find a return by its id alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_item_issuance_order_item", "item_issuance", ["order_id", "order_item_seq_id"]),
    ("ix_return_header_id", "return_header", ["return_id"]),
    ("ix_return_header_order", "return_header", ["order_id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
