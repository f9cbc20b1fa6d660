"""Tokens: stored hashed, authenticate by value, revocable; the CLI prints the token last."""

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from stockledger.auth import service
from stockledger.auth.models import ApiToken
from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.core.errors import ValidationFailed


def test_a_token_authenticates_until_revoked(db: Database) -> None:
    with db.transaction() as session:
        issued = service.create_token(session, "store", ["FACILITY_1"], "till 3")
    with db.reading() as session:
        principal = service.authenticate(session, issued.token)
        stored = session.scalars(select(ApiToken)).one()
    assert principal is not None
    assert (principal.role, principal.facilities) == ("store", frozenset({"FACILITY_1"}))
    assert issued.token.split("_", 2)[2] not in stored.token_hash  # only the hash is kept
    with db.transaction() as session:
        service.revoke_token(session, issued.token_id)
    with db.reading() as session:
        assert service.authenticate(session, issued.token) is None


@pytest.mark.parametrize("presented", ["", "sl_", "sl_abc_def", "Bearer x", "xx_yy_zz"])
def test_wrong_tokens_do_not_authenticate(db: Database, presented: str) -> None:
    with db.transaction() as session:
        issued = service.create_token(session, "admin")
    with db.reading() as session:
        assert service.authenticate(session, presented) is None
        assert service.authenticate(session, issued.token + "x") is None


def test_unknown_role_is_refused(db: Database) -> None:
    with pytest.raises(ValidationFailed), db.transaction() as session:
        service.create_token(session, "superuser")


def test_cli_prints_the_token_as_its_last_line(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(app, ["token", "create", "--role", "oms", "--facility", "F1", "--facility", "F2"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with db.reading() as session:
        principal = service.authenticate(session, token)
    assert principal is not None
    assert principal.facilities == frozenset({"F1", "F2"})
    listed = runner.invoke(app, ["token", "list"])
    assert principal.token_id in listed.output
    assert token not in listed.output
    assert runner.invoke(app, ["token", "revoke", principal.token_id]).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", "nope"]).exit_code == 2
