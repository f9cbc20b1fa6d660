"""Benchmark: the NATS publisher delivering a large ERP reset's events (issue 19, target 6).

    .venv/bin/python bench/events_publish.py [--lines 1000000] [--facilities 10]
    .venv/bin/python bench/events_publish.py --lines 100000      # a quick check that it works

Creates the database stockledger_bench_events (the facilities and products set-based), starts
`stockledger events publish` on the real NATS server (STOCKLEDGER_BENCH_NATS_URL, default
nats://127.0.0.1:4222) to a JetStream stream of this benchmark's own (BENCH_EVENTS_<pid>, subjects
bench_events_<pid>.>, deleted at the end), so it is connected and polling as `serve`'s publisher
would be; then runs `stockledger reset FILE.csv` of `--lines` lines (every facility item
created) through the CLI. Measures the seconds from the reset's commit (its
audit row seen by another connection) until the stream holds every event of the outbox, and prints
the events count, the largest payload in bytes (limit 65,536: a bulk change's event comes in
parts), `RATIO events_publish <60 s / seconds>` (≥ 1 meets the target) and a LIMIT line.
Records nothing in bench/RESULTS.md.
"""

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nats
import psycopg
from nats.js.errors import NotFoundError
from reset_1m import insert_catalogue

from stockledger.core import migrate
from stockledger.core.db import Database

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NATS_URL = os.environ.get("STOCKLEDGER_BENCH_NATS_URL", "nats://127.0.0.1:4222")
NAME = "stockledger_bench_events"
STOCKLEDGER = Path(sys.executable).parent / "stockledger"
TARGET_SECONDS = 60.0
PAYLOAD_LIMIT = 65_536
POLL_SECONDS = 0.05
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"


def url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")


def create_database(products: int, facilities: int) -> None:
    drop_database()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {NAME}")
    db = Database(url(NAME))
    migrate.upgrade(db.engine)
    db.dispose()
    with psycopg.connect(url(NAME)) as conn:
        insert_catalogue(conn, products, facilities)


def write_csv(path: Path, products: int, facilities: int) -> None:
    with path.open("w") as f:
        f.write(HEADER)
        for facility in range(1, facilities + 1):
            f.writelines(
                f"F{facility:02d},P{n:06d},{(n * 7 + facility) % 500 + 1},\n" for n in range(products)
            )


def outbox() -> tuple[int, int]:
    """Events in the outbox and the largest payload in bytes."""
    with psycopg.connect(url(NAME)) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(max(octet_length(payload)), 0) FROM outbox_event"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def stream_messages(stream: str) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        try:
            info = await nc.jetstream().stream_info(stream)
        except NotFoundError:
            return 0
        return int(info.state.messages)
    finally:
        await nc.close()


async def delete_stream(stream: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


class CommitWatch(threading.Thread):
    """Notes when the reset's audit row becomes visible to another connection: its commit
    (seen within POLL_SECONDS)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.committed_at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(url(NAME), autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute("SELECT count(*) FROM external_inventory_reset").fetchone()
                if row is not None and row[0] > 0:
                    self.committed_at = time.monotonic()
                    return
                time.sleep(POLL_SECONDS)


def wait_for_stream(stream: str, events: int, publisher: "subprocess.Popen[bytes]", limit: float) -> float:
    """The time (monotonic) at which the stream held `events` messages, polled from now: an
    upper bound (gives up after `limit` seconds)."""
    started = time.monotonic()
    while (held := asyncio.run(stream_messages(stream))) < events:
        if publisher.poll() is not None:
            raise RuntimeError(
                f"the publisher exited ({publisher.returncode}) with {held}/{events} delivered"
            )
        if time.monotonic() - started > limit:
            raise RuntimeError(f"only {held}/{events} events delivered after {limit:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=10)
    parser.add_argument("--give-up", type=float, default=600, help="seconds to wait for the stream")
    args = parser.parse_args()
    products = args.lines // args.facilities
    stream, prefix = f"BENCH_EVENTS_{os.getpid()}", f"bench_events_{os.getpid()}"
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url(NAME)}
    env.pop("STOCKLEDGER_NATS_URL", None)
    create_database(products, args.facilities)
    publish = [str(STOCKLEDGER), "events", "publish", "--nats-url", NATS_URL]
    publisher = subprocess.Popen([*publish, "--stream", stream, "--subject-prefix", prefix], env=env)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "reset.csv"
            write_csv(csv, products, args.facilities)
            watch = CommitWatch()
            watch.start()
            started = time.monotonic()
            reset = subprocess.run(
                [str(STOCKLEDGER), "reset", str(csv)], env=env, capture_output=True, text=True
            )
            reset_seconds = time.monotonic() - started
        watch.stop.set()
        watch.join()
        if reset.returncode != 0 or watch.committed_at is None:
            raise RuntimeError(f"stockledger reset failed:\n{reset.stdout}\n{reset.stderr}")
        events, largest = outbox()
        seconds = wait_for_stream(stream, events, publisher, args.give_up) - watch.committed_at
    finally:
        publisher.terminate()
        publisher.wait(timeout=30)
        asyncio.run(delete_stream(stream))
        drop_database()
    report(args.lines, reset_seconds, events, largest, seconds)


def report(lines: int, reset_seconds: float, events: int, largest: int, seconds: float) -> None:
    print(
        f"stockledger reset of {lines} lines: {reset_seconds:.1f} s (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"events {events}, largest payload {largest} bytes (limit {PAYLOAD_LIMIT})")
    target = f"target {TARGET_SECONDS:.0f} s"
    print(f"the stream held every event {seconds:.1f} s after the reset's commit ({target})")
    print(f"RATIO events_publish {TARGET_SECONDS / max(seconds, 0.001):.3f}")
    within = seconds <= TARGET_SECONDS and largest <= PAYLOAD_LIMIT
    print(f"LIMIT events_publish {'ok' if within else 'OVER'}")


if __name__ == "__main__":
    main()
