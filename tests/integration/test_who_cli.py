"""Who did it off HTTP: the CLI records cli:<os user> (or --user), the NATS consumer nats:<durable>."""

import getpass
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import ExternalInventoryReset, InventoryItemDetail
from stockledger.oms.consumer import ConsumerConfig, apply_one
from stockledger.oms.inbound import APPLIED

runner = CliRunner()
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


def _users_since(db: Database, seen: set[tuple[str, str]], after: int) -> tuple[set[object], set[object]]:
    """The users on the detail rows not in `seen` and on the events after `after`."""
    with db.reading() as session:
        d = InventoryItemDetail
        rows = session.execute(
            select(d.inventory_item_id, d.inventory_item_detail_seq_id, d.change_by_user_login_id)
        )
        details = {user for item, seq, user in rows if (item, seq) not in seen}
        payloads = session.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_seq > after))
        return details, {json.loads(p).get("changeByUserLoginId") for p in payloads}


def _marks(db: Database) -> tuple[set[tuple[str, str]], int]:
    with db.reading() as session:
        d = InventoryItemDetail
        seen = {
            (i, s) for i, s in session.execute(select(d.inventory_item_id, d.inventory_item_detail_seq_id))
        }
        return seen, max(session.scalars(select(OutboxEvent.event_seq)), default=0)


def _reset(db: Database, tmp_path: Path, body: str, *options: str) -> tuple[set[object], set[object]]:
    seen, after = _marks(db)
    path = tmp_path / "erp.csv"
    path.write_text(HEADER + body)
    result = runner.invoke(app, ["reset", str(path), *options])
    assert result.exit_code == 0, result.output
    return _users_since(db, seen, after)


def test_the_cli_records_its_os_user_or_the_user_given(env: str, seeded: Database, tmp_path: Path) -> None:
    me = f"cli:{getpass.getuser()}"
    assert _reset(seeded, tmp_path, "FACILITY_1,FG001,50,\nFACILITY_1,FG002,,30\n") == ({me}, {me})
    assert _reset(seeded, tmp_path, "FACILITY_1,FG001,45,\n", "--user", "erp-night") == (
        {"erp-night"},
        {"erp-night"},
    )
    with seeded.reading() as session:
        runs = session.scalars(
            select(ExternalInventoryReset.created_by_user_login_id).order_by(
                ExternalInventoryReset.created_stamp
            )
        ).all()
    assert runs == [me, "erp-night"]


def test_load_records_the_user_given(env: str, db: Database, tmp_path: Path) -> None:
    assert runner.invoke(app, ["demo", "--user", "setup"]).exit_code == 0
    document = [
        {
            "inventoryItemId": "LOADED-1",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "inventoryItemDetails": [{"quantityOnHandDiff": 3, "availableToPromiseDiff": 3}],
        }
    ]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(document))
    seen, after = _marks(db)
    result = runner.invoke(app, ["load", str(path), "--user", "loader"])
    assert result.exit_code == 0, result.output
    assert _users_since(db, seen, after)[0] == {"loader"}


def test_an_inbound_message_records_its_consumer(seeded: Database) -> None:
    seen, after = _marks(seeded)
    order = {
        "orderId": "N1",
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 1}],
    }
    assert apply_one(seeded, "OrderConfirmed", "m-1", json.dumps(order).encode(), "nats:oms-in") == APPLIED
    assert _users_since(seeded, seen, after) == ({"nats:oms-in"}, {"nats:oms-in"})
    assert ConsumerConfig("nats://x", durable="oms-in").acting_user == "nats:oms-in"
    assert ConsumerConfig("nats://x", durable="oms-in", user="ops").acting_user == "ops"
