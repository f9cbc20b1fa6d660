"""`--user` of the commands that write (reset, load, demo) is refused as `token create --user` refuses
it: blank, surrounding blanks, "system" in any case, a newline, over 60 characters. Exit 2, one
line, nothing written."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItemDetail

runner = CliRunner()
BAD_USERS = ["", " ", "system", "SYSTEM", "ann\nlee", " ann", "a" * 61]


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


def _rows(db: Database) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(InventoryItemDetail)) or 0


@pytest.mark.parametrize("user", BAD_USERS)
def test_reset_refuses_an_unusable_user(env: str, seeded: Database, tmp_path: Path, user: str) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("facilityId,productId,quantityOnHand\nFACILITY_1,FG001,45\n")
    before = _rows(seeded)
    result = runner.invoke(app, ["reset", str(csv), "--user", user])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1
    assert "--user" in result.output
    assert _rows(seeded) == before


@pytest.mark.parametrize("command", [["demo"], ["token", "create", "--role", "store"]])
def test_other_commands_refuse_system_too(env: str, seeded: Database, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--user", "System"])
    assert result.exit_code == 2, result.output
    assert "system" in result.output


def test_a_usable_user_is_recorded(env: str, seeded: Database, tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("facilityId,productId,quantityOnHand\nFACILITY_1,FG001,45\n")
    result = runner.invoke(app, ["reset", str(csv), "--user", "erp night"])
    assert result.exit_code == 0, result.output
    with seeded.reading() as session:
        users = session.scalars(
            select(InventoryItemDetail.change_by_user_login_id).where(
                InventoryItemDetail.reason_enum_id == "VAR_EXT_RESET"
            )
        ).all()
    assert users == ["erp night"]
