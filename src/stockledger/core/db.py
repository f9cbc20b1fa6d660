"""Engine and sessions. Every SQLite/PostgreSQL difference lives in this module.

SQLite: WAL journal, foreign keys on, a busy timeout, and write transactions that
start with BEGIN IMMEDIATE so two writers queue instead of failing on lock upgrade.
PostgreSQL: psycopg 3, READ COMMITTED, a pre-pinged pool.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "stockledger_read_only"


def normalize_url(url: str) -> str:
    """Let operators write postgresql:// and still get the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, pool_size: int = 10, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def upsert(engine_or_session: Engine | Session, table: Any) -> Any:
    """INSERT … with the dialect's ON CONFLICT support (both dialects share its API)."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    if bind.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def next_sequence_value(session: Session, name: str) -> int:
    """The next value of a named sequence: a real SEQUENCE on PostgreSQL; on SQLite a
    counter row, safe because SQLite write transactions are serialised (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(text(f"SELECT nextval('{name}')")).scalar_one())
    row = session.execute(
        text(
            "UPDATE sequence_value SET last_value = last_value + 1 "
            "WHERE sequence_name = :n RETURNING last_value"
        ),
        {"n": name},
    ).scalar_one_or_none()
    if row is None:
        session.execute(
            text("INSERT INTO sequence_value (sequence_name, last_value) VALUES (:n, 1)"), {"n": name}
        )
        return 1
    return int(row)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, pool_size: int = 10, **kwargs: Any) -> None:
        self.engine = make_engine(url, pool_size=pool_size, **kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (on SQLite it does not take the write lock)."""
        with self.sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            yield session  # closing rolls back without expiring what was read

    def dispose(self) -> None:
        self.engine.dispose()
