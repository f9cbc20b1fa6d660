"""The command line's database: one the command cannot use stops it with one line and exit 2.

Exit 1 is kept for what a command found (verify: the ledger is broken; reset: lines failed).
A database that cannot be reached, a SQLite file that does not exist, or a schema that is not
migrated is none of that: like an unusable STOCKLEDGER_DATABASE_URL it is exit 2, no traceback.
Commands that migrate first (migrate, demo, load, serve, token create, events publish|consume)
may create the SQLite file; the others need an existing, migrated database and never create one.
An existing SQLite file is looked at read-only first: one that is not a SQLite database, or (for
commands that need data) not migrated, is refused before anything is written to it.
"""

import sqlite3
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from stockledger.core import citus
from stockledger.core.actor import cli_user
from stockledger.core.config import get_settings
from stockledger.core.db import Database, configured_database
from stockledger.core.errors import AppError
from stockledger.core.revisions import schema_revisions

P = ParamSpec("P")
R = TypeVar("R")


class DatabaseUnusable(Exception):
    """One line saying why the command cannot use the database."""


def open_database(user: str | None = None, *, migrate: bool = False) -> Database:
    """The settings' database, reached now: `migrate` brings its schema up to date (a missing
    SQLite file is created); otherwise the file must exist and the schema be up to date."""
    settings = get_settings()
    _check_sqlite_file(settings.database_url, migrated=not migrate)
    db = configured_database(settings, user=user)
    try:
        if migrate:
            _up_to_date(db)
        else:
            _require_migrated(db)
    except BaseException:
        db.dispose()
        raise
    return db


def user_or_exit(user: str | None) -> str:
    """The user a command records (core.actor.cli_user); an unusable `--user` ends the command in
    one line, exit 2, as `token create --user` does."""
    try:
        return cli_user(user)
    except AppError as exc:
        typer.echo(f"stockledger: --user: {exc.detail}", err=True)
        raise typer.Exit(2) from None


def database_command(command: Callable[P, R]) -> Callable[P, R]:
    """A CLI command whose database problems are one line on stderr and exit 2."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DatabaseUnusable as exc:
            reason = str(exc)
        except (OperationalError, InterfaceError) as exc:
            reason = f"cannot reach the database {_shown(get_settings().database_url)}: {_first_line(exc)}"
        typer.echo(f"stockledger: {reason}", err=True)
        raise typer.Exit(2)

    return run


def _check_sqlite_file(url: str, *, migrated: bool) -> None:
    """A SQLite file, read-only: it must be a SQLite database; `migrated`: it must exist and be
    at the schema's head. A refusal leaves the file exactly as it was (no journal_mode=WAL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database or "")
    if not path.is_file():
        if not migrated:
            return
        raise DatabaseUnusable(
            f"STOCKLEDGER_DATABASE_URL names {path}, a SQLite file that does not exist; "
            "create it with `stockledger migrate` (or `stockledger demo`)"
        )
    uri = path.resolve().as_uri() + "?mode=ro"
    probe = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        current, head = schema_revisions(probe)
    except OperationalError:
        raise  # cannot open it (permissions...): database_command's "cannot reach" line
    except DatabaseError as exc:
        raise DatabaseUnusable(
            f"STOCKLEDGER_DATABASE_URL names {path}, which is not a SQLite database ({_first_line(exc)})"
        ) from None
    finally:
        probe.dispose()
    if migrated and current != head:
        raise DatabaseUnusable(_not_migrated(_shown(url), current, head))


def _up_to_date(db: Database) -> None:
    """The schema brought to the head: by Alembic when a migration is pending; at the head
    already, without importing Alembic and its migration scripts (a third of `stockledger
    load`'s start: 1.6 → 1.1 s of CPU), only the Citus placement migrate.upgrade ends with."""
    current, head = schema_revisions(db.engine)
    if current == head:
        citus.distribute(db.engine)
        return
    from stockledger.core import migrate as migrations  # Alembic: only when a migration is pending

    migrations.upgrade(db.engine)


def _require_migrated(db: Database) -> None:
    current, head = schema_revisions(db.engine)
    if current != head:
        raise DatabaseUnusable(
            _not_migrated(db.engine.url.render_as_string(hide_password=True), current, head)
        )


def _not_migrated(shown: str, current: str | None, head: str) -> str:
    return (
        f"the database {shown} is at schema revision {current or '(none: never migrated)'}, "
        f"this stockledger needs {head}; run `stockledger migrate`"
    )


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: DBAPIError) -> str:
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
