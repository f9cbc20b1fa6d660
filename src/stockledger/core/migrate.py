"""Alembic, driven from code: `serve` and `demo` migrate before they start."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from stockledger.core import citus

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`, in one transaction per migration run. On a Citus
    coordinator with workers, one migration at a time, each followed by placing the tables it
    added (core/citus.py), so a later migration can add a key to a table placed before it."""
    config = alembic_config(engine)
    steps = _pending(config, engine, revision) if citus.distributes(engine) else [revision]
    for step in steps:
        _upgrade_to(config, engine, step)
        citus.distribute(engine)


def _upgrade_to(config: Config, engine: Engine, revision: str) -> None:
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def _pending(config: Config, engine: Engine, revision: str) -> list[str]:
    """The revisions between the database's and `revision`, oldest first."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    scripts = ScriptDirectory.from_config(config)
    return [s.revision for s in reversed(list(scripts.iterate_revisions(revision, current)))]


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration against the database (developers only)."""
    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
