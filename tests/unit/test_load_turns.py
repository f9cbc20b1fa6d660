"""catalog/load_turns.py without a database: a Ctrl-C (in the main thread) stops the documents
being written on the other threads at their next batch, and none of them commits."""

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from stockledger.catalog.load_progress import Halted, Tracker
from stockledger.catalog.load_turns import write_in_turn

ITEMS: Any = ("inventoryItems", [])  # a validated document that is no facility's: one at a time


def test_an_interrupt_stops_the_writes_at_their_next_tick_and_commits_none() -> None:
    committed: list[str] = []
    halted: list[str] = []

    @contextmanager
    def open_transaction() -> Iterator[Any]:
        yield object()
        committed.append("committed")  # not reached when the block raises: rolled back

    def write(name: str, session: Any, valid: Any, tracker: Tracker, placed: Any) -> Any:
        try:
            for _ in range(1000):  # 10 s of batches unless halted
                tracker.tick()
                time.sleep(0.01)
        except Halted:
            halted.append(name)
            raise
        return None, {}

    main = threading.main_thread().ident
    assert main is not None
    threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        write_in_turn(open_transaction, True, [("a.json", ITEMS, 1000)], Tracker(), write, Counter())
    assert time.monotonic() - started < 3
    assert halted == ["a.json"]
    assert committed == []
