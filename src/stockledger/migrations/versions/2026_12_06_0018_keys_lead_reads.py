"""outbox_event and order_item_inventory_reservation: primary keys led by what is read

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 01:30:00

Every reservation writes one row in each table, and each row wrote an entry in two indexes
whose second only reordered the first's columns (as order_item's did before migration 0015):

* outbox_event: the primary key (facility_id, event_seq) and ix_outbox_event_seq (event_seq).
  Every read of the outbox is by event_seq (the feed, the publisher, the deployment checks); none
  is by facility. The key is now (event_seq, facility_id) and serves them; the index goes.
* order_item_inventory_reservation: the primary key (facility_id, order_id, order_item_seq_id,
  inventory_item_id) and ix_reservation_order_item (order_id, order_item_seq_id), for an order
  item's reservations in every facility. The key is now (order_id, order_item_seq_id,
  facility_id, inventory_item_id): the same rows unique, the same ON CONFLICT target (a column
  set), and it serves the order item's reads, with or without the facility; reads of a facility's
  reservations use ix_reservation_facility_product (led by facility_id). The index goes.

Both keys still hold facility_id (Citus: a unique key holds the distribution column).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTBOX = "outbox_event"
RESERVATION = "order_item_inventory_reservation"


def upgrade() -> None:
    _primary_key(OUTBOX, ["event_seq", "facility_id"])
    op.drop_index("ix_outbox_event_seq", table_name=OUTBOX)
    _primary_key(RESERVATION, ["order_id", "order_item_seq_id", "facility_id", "inventory_item_id"])
    op.drop_index("ix_reservation_order_item", table_name=RESERVATION)


def downgrade() -> None:
    op.create_index("ix_reservation_order_item", RESERVATION, ["order_id", "order_item_seq_id"])
    _primary_key(RESERVATION, ["facility_id", "order_id", "order_item_seq_id", "inventory_item_id"])
    op.create_index("ix_outbox_event_seq", OUTBOX, ["event_seq"])
    _primary_key(OUTBOX, ["facility_id", "event_seq"])


def _primary_key(table: str, columns: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite: the table is copied with its new key
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", columns)
        return
    # Two statements (in the migration's transaction): Citus refuses an ALTER TABLE of a
    # distributed table that adds a constraint together with other subcommands.
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(columns)})")
