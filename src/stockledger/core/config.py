"""Settings, read from the environment (prefix STOCKLEDGER_)."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOCKLEDGER_", extra="ignore")

    database_url: str = f"sqlite:///{Path.cwd() / 'stockledger.db'}"
    nats_url: str | None = None
    db_pool_size: int = 10


def get_settings() -> Settings:
    """Read afresh each call: the CLI and tests change the environment between runs."""
    return Settings()
