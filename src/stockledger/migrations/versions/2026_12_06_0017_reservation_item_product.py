"""order_item_inventory_reservation: one foreign key, to its item and the item's product

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 01:20:00

A reservation had two foreign keys: (facility_id, inventory_item_id) → inventory_item and
product_id → product. Each fires a check per reservation row; the product's also locks the
product's row (FOR KEY SHARE: a WAL record and a dirtied page each time, a MultiXact when two
reservations of one product overlap). Both are now one key, (facility_id, inventory_item_id,
product_id) → inventory_item, whose check finds the item row the reservation has just updated
and locked: it says what the two said (the item exists; the product exists, since the item's
own key to product holds) and more (the reservation's product IS its item's product). It needs
a unique index on inventory_item over those columns (written when an item is created; updates
of an item's totals leave it untouched, as product_id never changes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from stockledger.core.citus import has_workers

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "order_item_inventory_reservation"
KEY = "ix_inventory_item_product_key"
FK = "fk_reservation_item_product"
_ITEM = ["facility_id", "inventory_item_id"]
_ITEM_PRODUCT = ["facility_id", "inventory_item_id", "product_id"]


def _one_connection_per_node() -> None:
    """Citus: the reservation table has a key to a reference table (product), so a change of its
    keys after a parallel operation in the same transaction is refused; every statement of this
    migration runs over one connection per node instead (the migration's transaction only)."""
    if has_workers(op.get_bind()):
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")


def upgrade() -> None:
    _one_connection_per_node()
    op.create_index(KEY, "inventory_item", _ITEM_PRODUCT, unique=True)
    old = [fk["name"] for fk in sa.inspect(op.get_bind()).get_foreign_keys(TABLE) if fk["name"]]
    with op.batch_alter_table(TABLE) as batch:
        batch.create_foreign_key(FK, "inventory_item", _ITEM_PRODUCT, _ITEM_PRODUCT)
    # Citus: a constraint added in an ALTER TABLE of its own (SQLite: the table copied)
    with op.batch_alter_table(TABLE) as batch:
        for name in old:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    _one_connection_per_node()
    with op.batch_alter_table(TABLE) as batch:
        batch.create_foreign_key(
            op.f("fk_order_item_inventory_reservation_facility_id_inventory_item_id_inventory_item"),
            "inventory_item",
            _ITEM,
            _ITEM,
        )
    with op.batch_alter_table(TABLE) as batch:
        batch.create_foreign_key(
            op.f("fk_order_item_inventory_reservation_product_id_product"),
            "product",
            ["product_id"],
            ["product_id"],
        )
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(FK, type_="foreignkey")
    op.drop_index(KEY, table_name="inventory_item")
