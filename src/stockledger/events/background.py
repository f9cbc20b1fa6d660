"""The outbox publisher inside `stockledger serve`: one thread of the serving process.

It runs in the parent process, started before uvicorn and stopped after it returns. With
`--workers N` uvicorn spawns fresh worker processes (the spawn start method copies no
threads), so N workers still mean exactly one publisher per `serve`. The loop is the one of
`stockledger events publish`: NATS outages are waited out, the position never moves back.
"""

import asyncio
import contextlib
import logging
import threading

from stockledger.core.config import Settings
from stockledger.core.db import Database, configured_database
from stockledger.events.publisher import PublisherConfig, publish_forever

log = logging.getLogger("stockledger.events")


class BackgroundPublisher:
    """Publish the outbox in a daemon thread until `stop()`."""

    def __init__(self, settings: Settings, config: PublisherConfig) -> None:
        self.settings = settings
        self.config = config
        self._thread = threading.Thread(target=self._run, name="stockledger-publisher", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=self.settings.publisher_start_seconds)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end after its current batch and wait for the thread (`timeout`, else
        the settings' publisher_stop_seconds)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.settings.publisher_stop_seconds if timeout is None else timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        db = configured_database(self.settings)
        try:
            asyncio.run(self._main(db))
        finally:
            db.dispose()

    async def _main(self, db: Database) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        log.info("publishing the outbox to %s (stream %s)", self.config.nats_url, self.config.stream)
        while not self._stop.is_set():
            try:
                await publish_forever(db, self.config, self._stop)
            except Exception:  # a database hiccup must not end publishing for the server's lifetime
                pause = self.settings.publish_retry_seconds
                log.exception("the publisher failed; retrying in %.0f s", pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=pause)
        log.info("publisher stopped")
