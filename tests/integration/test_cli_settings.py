"""STOCKLEDGER_DATABASE_URL: a file path or a URL works; an unusable value is one line and exit 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from stockledger.core.db import Database

STOCKLEDGER = str(Path(sys.executable).parent / "stockledger")


def _run(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url}
    command = [STOCKLEDGER, *(args or ("migrate",))]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _migrated(path: Path) -> bool:
    db = Database(f"sqlite:///{path}")
    try:
        with db.reading() as session:
            return session.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        db.dispose()


def test_an_absolute_file_path_is_a_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ledger.db"
    path.parent.mkdir()
    result = _run(str(path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert _migrated(path)
    assert _run(str(path), tmp_path, "verify").returncode == 0


def test_a_relative_file_path_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = _run("sub/ledger.db", tmp_path)
    assert result.returncode == 0, result.stderr
    assert _migrated(tmp_path / "sub" / "ledger.db")


def test_a_sqlite_url_still_works(tmp_path: Path) -> None:
    result = _run("sqlite:///url.db", tmp_path)
    assert result.returncode == 0, result.stderr
    assert _migrated(tmp_path / "url.db")


@pytest.mark.postgres
def test_a_postgresql_url_still_works(postgres_url: str, tmp_path: Path) -> None:
    result = _run(postgres_url, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("postgresql://user@host:port/db", "cannot be parsed as a database URL"),
        ("mysql://user@host/db", "unsupported database 'mysql'"),
        ("no/such/dir/ledger.db", "a directory that does not exist"),
        ("sqlite:////no/such/dir/ledger.db", "a directory that does not exist"),
        (".", "names the directory"),
        ("", "is empty"),
    ],
)
def test_an_unusable_value_exits_2_with_one_line(value: str, reason: str, tmp_path: Path) -> None:
    result = _run(value, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stockledger: STOCKLEDGER_DATABASE_URL ")
    assert reason in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing created
