"""An import cannot put an item with active reservations on hold (an outside tester, session 11:
POST /v1/import answered 200 "updated 1" and `stockledger verify` then reported
nothing_reserved_on_non_promisable_items). The document is refused with 409 naming the item and
its reserved units, by the API and by `stockledger load` alike, and nothing changes. Both databases."""

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from tests.promisable_support import FACILITY, add_item

ITEM = {"inventoryItemId": "X-1", "productId": "X", "facilityId": FACILITY}


def _reserved_x(db: Database, client: TestClient) -> None:
    add_item(db, "X", "X-1", 5)
    line = {
        "orderId": "O-X",
        "orderItemSeqId": "00001",
        "productId": "X",
        "facilityId": FACILITY,
        "quantity": 2,
    }
    answer = client.post("/v1/reservations", json=line)
    assert answer.status_code in (200, 201), answer.text


def _state(db: Database) -> tuple[Any, ...]:
    with db.reading() as session:
        item = session.get(InventoryItem, (FACILITY, "X-1"))
        assert item is not None
        rows = session.scalar(select(func.count(InventoryItemDetail.seq_num)))
        return item.status_id, item.quantity_on_hand_total, item.available_to_promise_total, rows


def test_an_import_cannot_put_a_reserved_item_on_hold(db: Database, seeded_client: TestClient) -> None:
    _reserved_x(db, seeded_client)
    before = _state(db)
    answer = seeded_client.post("/v1/import", json=[{**ITEM, "statusId": "INV_ON_HOLD"}])
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["inventoryItemId"] == "X-1"
    assert problem["reservedQuantity"] == 2
    assert "X-1" in problem["detail"]
    assert "2 units reserved" in problem["detail"]
    assert _state(db) == before


def test_an_import_may_still_hold_an_unreserved_item_or_keep_a_reserved_one_available(
    db: Database, seeded_client: TestClient
) -> None:
    _reserved_x(db, seeded_client)
    kept = seeded_client.post("/v1/import", json=[{**ITEM, "statusId": "INV_AVAILABLE"}])
    assert kept.status_code == 200, kept.text
    add_item(db, "X", "X-2", 3)
    held = seeded_client.post(
        "/v1/import", json=[{**ITEM, "inventoryItemId": "X-2", "statusId": "INV_ON_HOLD"}]
    )
    assert held.status_code == 200, held.text
    with db.reading() as session:
        item = session.get(InventoryItem, (FACILITY, "X-2"))
        assert item is not None
        assert item.status_id == "INV_ON_HOLD"


def test_load_refuses_it_too(
    db: Database, db_url: str, seeded_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    _reserved_x(db, seeded_client)
    before = _state(db)
    path = tmp_path / "hold.json"
    path.write_text(json.dumps([{**ITEM, "statusId": "INV_ON_HOLD"}]))
    result = CliRunner().invoke(app, ["load", str(path)])
    assert result.exit_code != 0, result.output
    assert "X-1" in result.output
    assert "reserved" in result.output
    assert _state(db) == before
