"""What the stress and crash tests share: a fresh PostgreSQL database, the CLI, a real server.

Each test gets a database of its own (`stockledger_stress_<hex>`, dropped afterwards) and
drives the product as an operator would: `stockledger migrate`, `token create`, `serve
--workers N` as a subprocess in a process group of its own (so `kill -9` reaches every
worker), `verify` at the end.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from stockledger.core.db import Database
from stockledger.ledger.models import Product
from tests.databases import fresh_postgres

STOCKLEDGER = Path(sys.executable).parent / "stockledger"


def env_int(name: str, default: int) -> int:
    """A size knob: `STOCKLEDGER_STRESS_…` in the environment, else the CI default."""
    return int(os.environ.get(name, "").replace("_", "") or default)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database for one test; dropped (FORCE) at the end."""
    with fresh_postgres("stockledger_stress") as url:
        yield url


def add_facility_and_products(db: Database, facility_id: str, product_ids: list[str]) -> None:
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                "VALUES (:f, 'FIFO', '2026-01-01')"
            ),
            {"f": facility_id},
        )
        session.execute(insert(Product), [{"product_id": p} for p in product_ids])


def cli(db_url: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `stockledger ARGS…` against `db_url` (no NATS), capturing its output."""
    return subprocess.run(
        [str(STOCKLEDGER), *args], env=cli_env(db_url), capture_output=True, text=True, timeout=timeout
    )


def cli_env(db_url: str) -> dict[str, str]:
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": db_url}
    env.pop("STOCKLEDGER_NATS_URL", None)
    return env


def create_token(db_url: str, role: str, *facilities: str) -> str:
    """`stockledger token create`: the token is the last line it prints."""
    scope = [arg for f in facilities for arg in ("--facility", f)]
    made = cli(db_url, "token", "create", "--role", role, *scope, "--description", "stress tests")
    assert made.returncode == 0, made.stdout + made.stderr
    return made.stdout.strip().splitlines()[-1].strip()


def verify_clean(db_url: str) -> str:
    """`stockledger verify` exits 0 and reports 0 mismatches; returns its output."""
    verified = cli(db_url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 mismatches" in verified.stdout
    return verified.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`stockledger serve --workers N --no-publish` on a free port, in its own process group."""

    def __init__(
        self, db_url: str, workers: int = 2, log: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab") if log else None
        sink = self._log or subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(STOCKLEDGER), "serve", "--port", str(self.port), "--workers", str(workers), "--no-publish"],
            env=cli_env(db_url) | (env or {}),
            stdout=sink,
            stderr=sink,
            start_new_session=True,  # its own process group: the uvicorn workers die with it
        )
        self._wait_until_up()

    def _wait_until_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "stockledger serve exited at start"
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"stockledger serve did not answer within {seconds} s")

    def kill_9(self) -> None:
        """SIGKILL to the whole group (the supervisor and every worker), no shutdown of any kind."""
        os.killpg(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=30) == -signal.SIGKILL
        self._close_log()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None


def open_transactions_that_wrote(db: Database) -> int:
    """Other sessions holding an open transaction with a transaction id (it has written or locked)."""
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return int(conn.execute(text(query)).scalar() or 0)
