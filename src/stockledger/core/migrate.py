"""Alembic, driven from code: `serve` and `demo` migrate before they start."""

from pathlib import Path

from alembic import command
from alembic.config import Config
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
    """Bring the schema to `revision`, in one transaction per migration run; then, on a Citus
    coordinator with workers, distribute the tables (core/citus.py), in a transaction of its own."""
    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
    citus.distribute(engine)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration against the database (developers only)."""
    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
