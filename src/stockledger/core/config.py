"""Settings, read from the environment (prefix STOCKLEDGER_)."""

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_BACKENDS = ("sqlite", "postgresql", "postgres")
# A PostgreSQL memory setting: a whole number and its unit
MEMORY = r"^[1-9][0-9]{0,9}(kB|MB|GB|TB)$"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOCKLEDGER_", extra="ignore")

    database_url: str = f"sqlite:///{Path.cwd() / 'stockledger.db'}"
    nats_url: str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    # Tunables (docs/operations.md, Settings): each a default measured on the 2-CPU machine.
    token_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    async_wait_seconds: float = Field(default=0.5, gt=0, le=60)
    idle_ping_seconds: float = Field(default=5.0, ge=0, le=3600)
    reset_batch_size: int = Field(default=5_000, ge=100, le=10_000)
    reset_work_mem: str = Field(default="128MB", pattern=MEMORY)
    reset_temp_buffers: str = Field(default="256MB", pattern=MEMORY)
    publish_batch_size: int = Field(default=500, ge=1, le=10_000)
    consume_batch_size: int = Field(default=50, ge=1, le=10_000)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return database_url(value)


def database_url(value: str) -> str:
    """A SQLAlchemy URL for `value`: a sqlite:/// or postgresql:// URL, or a bare SQLite file path.

    Raises ValueError with a one-line reason when the value cannot be used."""
    value = value.strip()
    if not value:
        raise ValueError("is empty; give a file path, a sqlite:/// URL or a postgresql:// URL")
    if not _SCHEME.match(value):
        return f"sqlite:///{_sqlite_file(Path(value).expanduser().resolve())}"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"cannot be parsed as a database URL ({exc})") from exc
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"names the unsupported database {url.drivername!r}; use sqlite:/// or postgresql://"
        )
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        _sqlite_file(Path(url.database).expanduser())
    return value


def _sqlite_file(path: Path) -> Path:
    if path.is_dir():
        raise ValueError(f"names the directory {path}, not a SQLite file")
    if not path.parent.is_dir():
        raise ValueError(f"names a SQLite file in {path.parent}, a directory that does not exist")
    return path


def settings_problem(exc: ValidationError) -> str:
    """One line saying which setting is wrong and why."""
    first = exc.errors()[0]
    name = "STOCKLEDGER_" + str(first["loc"][0]).upper() if first["loc"] else "a STOCKLEDGER_ setting"
    reason = str(first["msg"]).removeprefix("Value error, ")
    return f"{name} {reason}"


def get_settings() -> Settings:
    """Read afresh each call: the CLI and tests change the environment between runs."""
    return Settings()
