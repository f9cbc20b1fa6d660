"""Moving a single-server database onto Citus, as docs/scaling.md tells it: dump the plain
PostgreSQL database: `stockledger migrate` on the coordinator places the empty schema, a
data-only dump fills it, `stockledger verify` is clean and every answer is the same as before.
The commands are docs/scaling.md's block, run as they stand."""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core import citus, migrate
from stockledger.core.db import Database
from stockledger.events.feed import read_feed
from stockledger.ledger.models import InventoryItem
from stockledger.ledger.views import product_facility_inventory_item
from stockledger.reservations.service import ReserveLine, reserve_stock
from tests.databases import fresh_citus, fresh_postgres
from tests.stock_support import FACILITY, receive

pytestmark = pytest.mark.citus


@pytest.fixture
def single_server() -> Iterator[Database]:
    """A plain PostgreSQL database with the seed data, a receipt, a reservation and their events."""
    with fresh_postgres("stockledger_move") as url:
        db = Database(url)
        load_documents(db, seed_documents())
        receive(db, "PO-MOVE", {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 7})
        with db.transaction() as session:
            line = ReserveLine(order_item_seq_id="00001", product_id="FG001", quantity=Decimal(3))
            reserve_stock(session, "O-MOVE", FACILITY, [line])
        yield db
        db.dispose()


ROOT = Path(__file__).resolve().parents[2]
MOVE_BLOCK = re.compile(
    r"tests/integration/test_citus_move.py runs this block on one -->\n```bash\n(.*?)^```", re.M | re.S
)


def _move_commands() -> str:
    """The block of docs/scaling.md's "Moving a single-server database"."""
    found = MOVE_BLOCK.search((ROOT / "docs" / "scaling.md").read_text())
    assert found is not None, "docs/scaling.md lost its block on moving a database"
    return "set -euo pipefail\n" + found[1]


def _answers(db: Database) -> dict[str, Any]:
    with db.reading() as session:
        view = session.execute(product_facility_inventory_item.select()).all()
        items = session.execute(
            select(InventoryItem.inventory_item_id, InventoryItem.available_to_promise_total)
        ).all()
        events = read_feed(session, 0, 1000)
        counts = {
            table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in (*citus.REFERENCE_TABLES, *citus.DISTRIBUTED_TABLES)
        }
    return {
        "view": sorted(tuple(r) for r in view),
        "items": sorted(tuple(r) for r in items),
        "events": [(e.event_seq, e.event_type, e.payload) for e in events],
        "counts": counts,
    }


def test_a_single_server_database_moves_onto_the_cluster(single_server: Database) -> None:
    before = _answers(single_server)
    assert before["events"]
    assert before["counts"]["inventory_item_detail"] > 0
    source = single_server.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with fresh_citus("stockledger_moved", migrated=False) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLEDGER_")}
        env |= {
            "SOURCE_URL": source,
            "CITUS_URL": url,
            "PATH": f"{Path(sys.executable).parent}:{env['PATH']}",
        }
        moving = subprocess.run(["bash", "-c", _move_commands()], env=env, capture_output=True, text=True)
        assert moving.returncode == 0, moving.stderr
        assert "verify: 0 mismatches" in moving.stdout
        moved = Database(url)
        try:
            with moved.engine.connect() as conn:
                assert citus.placed_tables(conn) == {*citus.REFERENCE_TABLES, *citus.DISTRIBUTED_TABLES}
            assert _answers(moved) == before
        finally:
            moved.dispose()


LATER = '''"""{doc}

Revision ID: {rev}
Revises: {down}
"""

from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("{sql}")


def downgrade() -> None:
    pass
'''


def _later_migrations(tmp_path: Path) -> Path:
    """The project's migrations and two more: a table keyed to a reference table, then its key
    to a distributed table (as a later feature would add them)."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory.from_config(
        migrate.alembic_config(Database("sqlite://").engine)
    ).get_current_head()
    steps = [
        (
            "9001",
            head,
            "CREATE TABLE later_table (facility_id varchar(60) REFERENCES facility, "
            "inventory_item_id varchar(60), PRIMARY KEY (facility_id, inventory_item_id))",
        ),
        (
            "9002",
            "9001",
            "ALTER TABLE later_table ADD FOREIGN KEY (facility_id, inventory_item_id) "
            "REFERENCES inventory_item",
        ),
    ]
    for rev, down, sql in steps:
        body = LATER.format(doc=f"later {rev}", rev=rev, down=down, sql=sql)
        (copy / "versions" / f"{rev}_later.py").write_text(body)
    return copy


def test_an_upgrade_places_each_new_table_before_the_next_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_citus("stockledger_upgrade") as url:  # at the project's head, distributed
        monkeypatch.setattr(migrate, "MIGRATIONS", _later_migrations(tmp_path))
        monkeypatch.setattr(citus, "DISTRIBUTED_TABLES", (*citus.DISTRIBUTED_TABLES, "later_table"))
        db = Database(url)
        try:
            migrate.upgrade(db.engine)
            with db.engine.connect() as conn:
                assert "later_table" in citus.placed_tables(conn)
                keys = {fk.referred for fk in citus.foreign_keys(conn) if fk.table == "later_table"}
            assert keys == {"facility", "inventory_item"}
        finally:
            db.dispose()
