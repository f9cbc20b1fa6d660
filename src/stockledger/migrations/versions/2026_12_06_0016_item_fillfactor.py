"""inventory_item: pages filled to 90 %, so an item's update stays on its page (HOT)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:15:00

Every posting updates its item's row (the totals, last_detail_seq); no indexed column changes,
so PostgreSQL can write the new version on the same page without touching the item's three
indexes (a HOT update), but only if the page has room. A load fills the pages to 100 %, and
then about one update in seven (after 26,000 reservations of 10,000 items, bench/cpu_reserve.py)
moved the row to another page and wrote an entry in each index. 10 % free space per page keeps
room for the next version until pruning reclaims the dead ones. Pages written before this
migration keep their layout until they are rewritten (VACUUM FULL); new ones follow it.
SQLite has no such setting: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inventory_item SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inventory_item RESET (fillfactor)")
