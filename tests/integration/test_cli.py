"""The CLI: demo, load, verify (exit 0 clean, 1 on a corrupted total)."""

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from stockledger.auth.service import authenticate, list_tokens
from stockledger.cli import app
from stockledger.core.db import Database
from tests.seeds import seed_json_documents

runner = CliRunner()


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


def test_demo_then_verify_is_clean(env: str, db: Database) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with db.reading() as session:
        principal = authenticate(session, token)
    assert principal is not None
    assert principal.role == "admin"
    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 0
    assert "shown only once" in again.output
    assert again.output.strip().splitlines()[-1] != token
    with db.reading() as session:
        assert [t.role for t in list_tokens(session)] == ["admin"]  # no token minted by the rerun
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0
    assert "0 mismatches" in verified.output


@pytest.mark.corrupts_ledger
def test_verify_exits_1_on_a_corrupted_total(env: str, db: Database) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    with db.engine.begin() as conn:  # bypass the write path on purpose
        conn.execute(
            text(
                "UPDATE inventory_item SET quantity_on_hand_total = quantity_on_hand_total + 1000000 "
                "WHERE inventory_item_id = 'FG002-INV-001'"
            )
        )
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "FG002-INV-001" in result.output
    assert "1 mismatches" in result.output


def test_load_files_in_order(env: str, db: Database, tmp_path: Path) -> None:
    paths = []
    for n, (_, document) in enumerate(seed_json_documents()):
        path = tmp_path / f"doc{n}.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    result = runner.invoke(app, ["load", *paths])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["verify"]).exit_code == 0


def test_load_refuses_bad_json_and_unknown_references(env: str, db: Database, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert runner.invoke(app, ["load", str(broken)]).exit_code == 2
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps([{"inventoryItemId": "X", "productId": "P", "facilityId": "F"}]))
    result = runner.invoke(app, ["load", str(orphan)])
    assert result.exit_code == 2
    assert "not_found" in result.output or "validation_failed" in result.output


def test_demo_new_token_mints_another_that_works(env: str, db: Database) -> None:
    first = runner.invoke(app, ["demo"]).output.strip().splitlines()[-1]
    result = runner.invoke(app, ["demo", "--new-token"])
    assert result.exit_code == 0, result.output
    second = result.output.strip().splitlines()[-1]
    assert second != first
    with db.reading() as session:
        assert authenticate(session, second) is not None
        assert len(list_tokens(session)) == 2
