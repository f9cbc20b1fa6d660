"""A database a command cannot use: one line on stderr, exit 2, no traceback, no file created.

Exit 1 stays what a command found (verify: a broken ledger). Commands that need existing data
refuse a SQLite file that does not exist and a schema not migrated; every command refuses a
database server it cannot reach."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.databases import PG_ADMIN_URL
from tests.integration.test_cli_settings import _run

RESET_CSV = "facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,FG001,1,1\n"
NEED_DATA = [
    ("verify",),
    ("token", "list"),
    ("token", "revoke", "TOKEN_X"),
    ("events", "status"),
    ("idempotency", "purge"),
    ("reset", "reset.csv"),
]
EVERY = [
    *NEED_DATA,
    ("migrate",),
    ("demo",),
    ("load", "reset.csv"),
    ("serve", "--port", "1"),
    ("token", "create", "--role", "admin"),
    ("events", "publish", "--once", "--nats-url", "nats://127.0.0.1:1"),
    ("events", "consume", "--until-idle", "--nats-url", "nats://127.0.0.1:1"),
]


def _refused(result: subprocess.CompletedProcess[str], reason: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert lines[0].startswith("stockledger: ")
    assert reason in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "reset.csv").write_text(RESET_CSV, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", NEED_DATA, ids=" ".join)
def test_a_missing_sqlite_file_is_refused_not_created(command: tuple[str, ...], workdir: Path) -> None:
    result = _run("rel.db", workdir, *command)
    line = _refused(result, f"names {workdir / 'rel.db'}, a SQLite file that does not exist")
    assert "stockledger migrate" in line
    assert sorted(p.name for p in workdir.iterdir()) == ["reset.csv"]


@pytest.mark.parametrize("command", NEED_DATA, ids=" ".join)
def test_an_empty_sqlite_file_is_refused_and_stays_empty(command: tuple[str, ...], workdir: Path) -> None:
    (workdir / "empty.db").touch()
    _refused(_run("empty.db", workdir, *command), "never migrated")
    assert (workdir / "empty.db").read_bytes() == b""
    assert sorted(p.name for p in workdir.iterdir()) == ["empty.db", "reset.csv"]


@pytest.mark.parametrize("command", EVERY, ids=" ".join)
def test_a_file_that_is_not_a_sqlite_database_is_one_line(command: tuple[str, ...], workdir: Path) -> None:
    (workdir / "garbage.db").write_bytes(b"garbage\n")
    line = _refused(_run("garbage.db", workdir, *command), "not a SQLite database")
    assert str(workdir / "garbage.db") in line
    assert (workdir / "garbage.db").read_bytes() == b"garbage\n"
    assert sorted(p.name for p in workdir.iterdir()) == ["garbage.db", "reset.csv"]


@pytest.mark.postgres
@pytest.mark.parametrize("command", EVERY, ids=" ".join)
def test_a_postgresql_server_it_cannot_reach_is_one_line(command: tuple[str, ...], workdir: Path) -> None:
    result = _run("postgresql://postgres:secret@127.0.0.1:1/stockledger", workdir, *command)
    line = _refused(result, "cannot reach the database postgresql://postgres:***@127.0.0.1:1/stockledger")
    assert "secret" not in line
    assert sorted(p.name for p in workdir.iterdir()) == ["reset.csv"]


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A database on the real server with no schema at all."""
    name = f"stockledger_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_one_line(workdir: Path) -> None:
    missing = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/stockledger_none_{uuid.uuid4().hex[:10]}"
    line = _refused(_run(missing, workdir, "verify"), "cannot reach the database")
    assert "does not exist" in line


@pytest.mark.postgres
def test_a_postgresql_database_never_migrated_is_refused_until_migrate(
    empty_postgres: str, workdir: Path
) -> None:
    for command in NEED_DATA:
        _refused(_run(empty_postgres, workdir, *command), "never migrated")
    assert _run(empty_postgres, workdir, "migrate").returncode == 0
    verified = _run(empty_postgres, workdir, "verify")
    assert verified.returncode == 0, verified.stderr


def test_a_command_that_migrates_imports_no_alembic_when_the_schema_is_at_its_head(db_url: str) -> None:
    """`stockledger load` (and every command that migrates first) starts without Alembic and its
    migration scripts when there is nothing to migrate: the head is read from the files."""
    code = (
        "import sys\n"
        "from stockledger.core.cli_database import open_database\n"
        "open_database(migrate=True).dispose()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
