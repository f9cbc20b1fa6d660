"""Tokens: stored hashed, authenticate by value, revocable; the CLI prints the token last."""

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from stockledger.auth import service
from stockledger.auth.models import ApiToken
from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.core.errors import ValidationFailed
from stockledger.ledger.models import Facility


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


def _facilities(db: Database, *facility_ids: str) -> None:
    with db.transaction() as session:
        session.add_all(Facility(facility_id=f) for f in facility_ids)


def test_cli_prints_the_token_as_its_last_line(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    _facilities(db, "F1", "F2")
    runner = CliRunner()
    result = runner.invoke(app, ["token", "create", "--role", "oms", "--facility", "F1", "--facility", "F2"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with db.reading() as session:
        principal = service.authenticate(session, token)
    assert principal is not None
    assert principal.facilities == frozenset({"F1", "F2"})
    assert principal.login_id == principal.token_id  # no --user: the token acts for its id
    listed = runner.invoke(app, ["token", "list"])
    assert principal.token_id in listed.output
    assert token not in listed.output
    assert runner.invoke(app, ["token", "revoke", principal.token_id]).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", "nope"]).exit_code == 2


def test_a_token_acts_for_its_user_and_token_list_shows_it(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(app, ["token", "create", "--role", "store", "--user", "ann.lee"])
    assert result.exit_code == 0, result.output
    assert "user ann.lee" in result.output
    with db.reading() as session:
        principal = service.authenticate(session, result.output.strip().splitlines()[-1])
    assert principal is not None
    assert (principal.user_login_id, principal.login_id) == ("ann.lee", "ann.lee")
    listed = runner.invoke(app, ["token", "list"], env={"COLUMNS": "200"})
    row = next(line for line in listed.output.splitlines() if principal.token_id in line)
    assert "ann.lee" in row


@pytest.mark.parametrize("user", ["", " ann", "system", "SYSTEM", "x" * 61])
def test_a_blank_or_anonymous_user_is_refused(db: Database, user: str) -> None:
    with pytest.raises(ValidationFailed), db.transaction() as session:
        service.create_token(session, "store", user=user)
    with db.reading() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_token_create_refuses_an_unknown_facility(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    _facilities(db, "F1")
    result = CliRunner().invoke(
        app, ["token", "create", "--role", "store", "--facility", "F1", "--facility", "NO_SUCH_FAC"]
    )
    assert result.exit_code == 2
    assert "Unknown facility NO_SUCH_FAC" in result.output
    with db.reading() as session:
        assert session.scalars(select(ApiToken)).all() == []
