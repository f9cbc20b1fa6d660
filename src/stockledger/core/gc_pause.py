"""Cyclic garbage collection paused around bulk work, and skipped at a command's exit."""

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block (as it found it after): a document's import
    makes a few objects a record (parsed JSON, models, rows), none of them cyclic garbage, and
    each collection of the older generations walks them all again, and every document still
    waiting (measured: 45 % of `stockledger load`'s CPU for 100,000 products, 25 % of
    POST /v1/import's). Refcounting still frees what the block drops. The pause is the
    process's: in `serve`, other requests' cyclic garbage waits for the end of the import (a
    document holds at most 50,000 records: about a second)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def made_to_last() -> Iterator[None]:
    """What the block makes (a process's start-up: its modules, classes and their tables) lives
    as long as the process: no collection while it is made, and the collector never walks it
    afterwards (gc.freeze: every object now tracked is set aside, cyclic garbage made so far
    included, never freed: start-up makes next to none)."""
    with collections_paused():
        yield
        gc.freeze()


def no_collections_at_exit() -> None:
    """At the interpreter's exit, no cyclic collection (gc.freeze, registered with atexit): the
    objects left are the system's to reclaim with the process. The collections Python runs while
    it shuts down walked the ≈ 100,000 objects of the loaded modules several times, 0.23-0.27 s of
    every `stockledger` command (`load`, `verify`), against 0.02-0.07 s frozen. Objects are
    still freed as their last reference goes, and files flushed; only garbage held in a
    reference cycle is left unfinalized, which Python never promises at exit either."""
    atexit.unregister(gc.freeze)  # once, however many commands one process runs (tests)
    atexit.register(gc.freeze)
