"""Settings, read from the environment (prefix STOCKLEDGER_)."""

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_BACKENDS = ("sqlite", "postgresql", "postgres")
# A PostgreSQL memory setting: a whole number and its unit
MEMORY = r"^[1-9][0-9]{0,9}(kB|MB|GB|TB)$"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class Settings(BaseSettings):
    # nan and inf are no number of seconds: refused as "a finite number", not by a bound they slip past
    model_config = SettingsConfigDict(env_prefix="STOCKLEDGER_", extra="ignore", allow_inf_nan=False)

    database_url: str = Field(
        default=f"sqlite:///{Path.cwd() / 'stockledger.db'}", description="a SQLite file or a database URL"
    )
    nats_url: str | None = Field(default=None, description="the NATS server; unset: nothing published")
    db_pool_size: int = Field(default=10, ge=1, le=1000, description="connections per pool of a process")
    # Tunables (docs/operations.md, Settings): each a default measured on the 2-CPU machine. Each
    # is read once, where the app, a database or a command is made, never per request.
    token_cache_seconds: float = Field(
        default=5.0, ge=0, le=3600, description="how long a worker trusts a token's principal"
    )
    token_cache_entries: int = Field(
        default=10_000, ge=1, le=10_000_000, description="principals a worker keeps; full: forgets them all"
    )
    async_wait_seconds: float = Field(
        default=0.5, gt=0, le=60, description="a hot route's wait for the async pool, then the thread path"
    )
    idle_ping_seconds: float = Field(
        default=5.0, ge=0, le=3600, description="a pooled connection idle this long is pinged first"
    )
    accept_defer_seconds: float = Field(
        default=0.05,
        ge=0,
        le=10,
        description="serve --workers N: how long a worker holding more leaves a new connection to a sibling",
    )
    serve_slice_microseconds: int = Field(
        default=100,
        description="serve: the kernel time slice a worker asks for (Linux 6.12+; 0: the kernel's own)",
    )
    sqlite_busy_timeout_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="SQLite: how long a writer waits for the write lock"
    )
    statement_cache_size: int = Field(
        default=512, ge=1, le=100_000, description="entries of each compiled-statement cache (per process)"
    )
    analyze_grown_rows: int = Field(
        default=1_000,
        ge=1,
        le=1_000_000_000,
        description="PostgreSQL: rows bulk work adds to a table before it is analysed (read at start)",
    )
    analyze_grown_share: float = Field(
        default=0.5,
        ge=0,
        le=100,
        description="and once it grew by this share since its last ANALYZE (its pages; read at start)",
    )
    retry_after_seconds: int = Field(
        default=2, ge=0, le=3600, description="Retry-After of a 503 database_unavailable"
    )
    idempotency_key_hours: float = Field(
        default=24.0, gt=0, le=24 * 366, description="how long an Idempotency-Key replays its answer"
    )
    idempotency_wait_seconds: float = Field(
        default=10.0, gt=0, le=600, description="a duplicate's wait for its key's first request, then 409"
    )
    reset_batch_size: int = Field(default=5_000, ge=100, le=10_000, description="lines per reset batch")
    reset_work_mem: str = Field(
        default="128MB", pattern=MEMORY, description="PostgreSQL work_mem of a set-based reset's transaction"
    )
    reset_temp_buffers: str = Field(
        default="256MB", pattern=MEMORY, description="PostgreSQL temp_buffers of a reset's connection (once)"
    )
    publish_batch_size: int = Field(default=500, ge=1, le=10_000, description="outbox events per publish")
    publish_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="the publisher's wait between looks at an empty outbox"
    )
    publish_retry_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="serve's publisher: the pause after a failure"
    )
    publish_backoff_max_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="the publisher's longest wait while NATS or the database is away",
    )
    publisher_start_seconds: float = Field(
        default=10.0, gt=0, le=600, description="serve: how long it waits for its publisher thread to start"
    )
    publisher_stop_seconds: float = Field(
        default=15.0, gt=0, le=600, description="serve: how long it waits for its publisher thread to end"
    )
    consume_batch_size: int = Field(default=50, ge=1, le=10_000, description="OMS messages per pull")
    consume_fetch_seconds: float = Field(
        default=1.0, gt=0, le=60, description="a pull's wait for OMS messages before it asks again"
    )
    consume_retry_seconds: float = Field(
        default=5.0, ge=0, le=3600, description="an inbound message not applied is delivered again after this"
    )
    sign_in_hours: float = Field(
        default=12.0, gt=0, le=24 * 366, description="how long the web UI's sign-in cookie lasts"
    )
    form_token_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="how long the sign-in page's form token lasts"
    )
    nats_connect_seconds: float = Field(
        default=2.0, gt=0, le=60, description="how long a publisher or consumer tries to reach NATS"
    )
    import_batch_size: int = Field(
        default=5_000, ge=1, le=100_000, description="products per batch of a load (read at start)"
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="the largest request body (streamed uploads aside)",
    )
    reservation_event_lines: int = Field(
        default=1_000,
        ge=1,
        le=100_000,
        description="reservation lines per StockReserved event (read at start)",
    )
    csv_export_chunk_rows: int = Field(
        default=1_000, ge=1, le=100_000, description="rows a CSV export reads per statement"
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return database_url(value)

    @field_validator("serve_slice_microseconds")
    @classmethod
    def _slice(cls, value: int) -> int:
        if value != 0 and not 100 <= value <= 100_000:  # the kernel would clamp it without a word
            raise ValueError("must be 0 (the kernel's own slice) or 100 to 100000 (microseconds)")
        return value


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


def default(name: str) -> Any:
    """The default of setting `name`: declared once, on its field, for whatever else needs it."""
    return Settings.model_fields[name].default


def at_import(name: str) -> Any:
    """Setting `name` read from the environment alone, for what is sized when its module is
    imported (before any Settings is made). An unusable value gives the default here: the
    commands and the app refuse it, in one line, when they read the settings."""
    field = Settings.model_fields[name]
    raw = os.environ.get(f"STOCKLEDGER_{name.upper()}")
    if raw is None:
        return field.default
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, *field.metadata])  # type: ignore[arg-type]
        return adapter.validate_python(raw)
    except ValidationError:
        return field.default


def get_settings() -> Settings:
    """Read afresh each call: the CLI and tests change the environment between runs."""
    return Settings()
