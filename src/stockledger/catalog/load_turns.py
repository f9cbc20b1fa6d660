"""`stockledger load`'s documents after the first: each in a transaction of its own, committed in
document order, and the next one written while one still is, where the two cannot meet.

A 100,000-product load keeps one server process busy, mostly with the foreign-key checks of the
rows it COPYs (about 70 % of its CPU, profiled), and the machine's other CPU idle. So a document
is written on a connection of its own, each on a thread of its own, and the next one starts
before the one ahead commits when neither can see or wait for what the other writes
(`_may_overlap`): both are a facility's, they name no product in common, and the one ahead
found its facility and locations as it gives them (it wrote none of their rows, so the one
behind reads what the one ahead leaves). The one behind reads those rows and leaves them
unlocked where they are as given (importer.Alongside: an upsert would wait for the one ahead's
row lock), and its foreign-key checks' KEY SHARE locks go with any lock the one ahead holds.
Any other pair is written one after the other. At most two at once; PostgreSQL only (SQLite has
one writer at a time; a Citus coordinator is left one transaction at a time).

Each transaction commits only once the one ahead has committed, and rolls back when that one did
not: a refusal leaves the documents before it committed, none after it, as one after the other.
PostgreSQL does not see that wait: should the one ahead wait on a row lock meanwhile (another
client's, which may itself wait for a row the one behind wrote), the one behind rolls back, giving
its locks back, and is written again once the one ahead ended (`_Turn._wait_turn`).
An interrupt (Ctrl-C reaches the main thread only) stops the writes on the other threads at
their next batch (load_progress.Halted); the documents not committed yet roll back.
"""

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from threading import Event, Thread

from sqlalchemy.orm import Session

from stockledger.catalog.importer import Alongside, ImportOutcome, Parsed, products_named
from stockledger.catalog.load_progress import Tracker
from stockledger.core.db import backend_pid, canceller
from stockledger.core.dialects import waits_on_a_lock

Loaded = tuple[ImportOutcome, dict[str, int]]  # what a document wrote, and the rows it added per table
Write = Callable[[str, Session, Parsed, Tracker, Alongside], Loaded]  # catalog/cli.py `_loaded`
OpenTransaction = Callable[[], AbstractContextManager[Session]]  # the command's: one transaction a call
AT_ONCE = 2  # documents written at once: one server process each, on a 2-CPU machine


class _Abandoned(Exception):
    """The document ahead did not commit (or the run was interrupted): this one rolls back."""


class _Yielded(Exception):
    """The one ahead waits on a row lock: this one rolls back, to be written again after it."""


WATCH_SECONDS = 0.2  # how often a document waiting for the one ahead looks whether that one waits


class _Turn:
    """One document's transaction on a thread and a connection of its own; it commits after the
    one ahead (`ahead`) committed."""

    def __init__(
        self,
        open_transaction: OpenTransaction,
        document: tuple[str, Parsed, int],
        ahead: "_Turn | None",
        alongside: bool,
        stop: Event,
    ) -> None:
        self.name, self.valid, self.records = document
        self.ahead, self.alongside, self.stop, self.open_transaction = (
            ahead,
            alongside,
            stop,
            open_transaction,
        )
        self.products = products_named(self.valid)
        self.placed = Event()  # its facility and locations merged (or it ended)
        self.wrote_facility = True  # until it tells otherwise
        self.ended = Event()
        self.loaded: Loaded | None = None
        self.error: BaseException | None = None
        self.backend: int | None = None  # its transaction's PostgreSQL backend, once it started
        self._cancel: Callable[[], None] = lambda: None  # its running statement's, once it started
        self._thread: Thread | None = None

    def start(self, write: Write, tracker: Tracker) -> None:
        self._thread = Thread(target=self._run, args=(write, tracker), name="stockledger-load", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait until it ended. On its Event, not Thread.join: a join a Ctrl-C interrupted marks
        the thread ended for every later join (CPython 3.11, bpo-45274's fix), and the
        interrupted run must still wait for its writes to stop."""
        if self._thread is not None:
            self.ended.wait()

    def _run(self, write: Write, tracker: Tracker) -> None:
        try:
            own = tracker.document(self.name, self.records, self.stop)
            try:
                self.loaded = self._written(write, own)
            except _Yielded:  # rolled back: written again once the one ahead ended
                assert self.ahead is not None  # only a document behind another yields
                self.ahead.ended.wait()
                self.loaded = self._written(write, tracker.document(self.name, 0, self.stop))
            own.finish()
        except BaseException as error:  # the coordinator raises it, in document order
            self.error = error
        finally:
            self.placed.set()
            self.ended.set()

    def cancel(self) -> None:
        """Cancel the statement its connection runs, if any (PostgreSQL; psycopg's cancel
        request, safe from another thread)."""
        if not self.ended.is_set():
            self._cancel()

    def _written(self, write: Write, own: Tracker) -> Loaded:
        with self.open_transaction() as session:
            self._cancel = canceller(session)
            self.backend = backend_pid(session)
            if self.stop.is_set():  # interrupted before it began: nothing to cancel yet
                raise _Abandoned
            loaded = write(self.name, session, self.valid, own, Alongside(self._placed, self.alongside))
            self._wait_turn(session)
        return loaded

    def _placed(self, wrote: bool) -> None:
        self.wrote_facility = wrote
        self.placed.set()

    def _wait_turn(self, session: Session) -> None:
        """Wait until the one ahead ended (it committed: go on; else roll back). While it waits
        on a row lock, this one gives its own back (`_Yielded`): PostgreSQL cannot see this wait,
        so a third transaction between the two (waited for by the one ahead, waiting for a row
        this one wrote) would otherwise hold all three for ever."""
        ahead = self.ahead
        if ahead is not None:
            while not ahead.ended.wait(WATCH_SECONDS):
                if self.alongside and ahead.backend is not None and waits_on_a_lock(session, ahead.backend):
                    raise _Yielded
            if ahead.error is not None:
                raise _Abandoned
        if self.stop.is_set():
            raise _Abandoned


def write_in_turn(
    open_transaction: OpenTransaction,
    at_once: bool,
    documents: list[tuple[str, Parsed, int]],
    tracker: Tracker,
    write: Write,
    added: Counter[str],
    outcomes: list[tuple[str, ImportOutcome]] | None = None,
) -> list[tuple[str, ImportOutcome]]:
    """Write `documents` (name, validated document, its records for the bar) with `write`, each
    in a transaction of its own (`open_transaction`: the command's, which owns them), committed
    in their order, two at once where they cannot meet when `at_once`
    (core.db.Database.writes_at_once); `added` counts the rows the committed ones added, and
    `outcomes` (returned) gets each committed one's outcome appended. The first refusal, in
    document order, is raised once every transaction ended (those behind it rolled back), the
    outcomes and rows added of those before it counted; so is an interrupt (those not committed
    yet roll back), the outcomes and rows added of those that committed before it counted."""
    stop = Event()
    turns: list[_Turn] = []
    try:
        for document in documents:
            alongside = bool(turns) and _room_for(at_once, turns, document[1])
            if any(turn.error is not None for turn in turns if turn.ended.is_set()):
                break  # a document ahead failed: nothing after it is written
            turns.append(_Turn(open_transaction, document, turns[-1] if turns else None, alongside, stop))
            turns[-1].start(write, tracker)
        for turn in turns:
            turn.join()
    except BaseException:
        stop.set()
        for turn in turns:
            turn.cancel()  # a statement running (or waiting on a lock) ends now, not at its end
        for turn in turns:
            turn.join()
        for turn in turns:  # those that committed before the stop, in their order
            if turn.loaded is None:
                break
            added.update(turn.loaded[1])  # ANALYZEd by the caller all the same
            if outcomes is not None:
                outcomes.append((turn.name, turn.loaded[0]))
        raise
    return _answers(turns, added, [] if outcomes is None else outcomes)


def _room_for(at_once: bool, turns: list[_Turn], valid: Parsed) -> bool:
    """Wait until the next document may start: alongside the last one (True), or once it ended."""
    if len(turns) >= AT_ONCE:
        turns[-AT_ONCE].ended.wait()
    ahead = turns[-1]
    if at_once and _may_overlap(ahead, valid):
        return True
    ahead.ended.wait()
    return False


def _may_overlap(ahead: _Turn, valid: Parsed) -> bool:
    """Whether `valid` may be written while `ahead` still is: neither can see or lock what the
    other writes."""
    if ahead.products is None:
        return False
    named = products_named(valid)
    if named is None or not ahead.products.isdisjoint(named):
        return False
    ahead.placed.wait()
    return not ahead.wrote_facility


def _answers(
    turns: list[_Turn], added: Counter[str], outcomes: list[tuple[str, ImportOutcome]]
) -> list[tuple[str, ImportOutcome]]:
    """`outcomes` with each committed document's outcome appended (its rows added counted), up
    to the first failure, which is raised."""
    for turn in turns:
        if turn.error is not None:
            raise turn.error
        assert turn.loaded is not None  # ended without an error: committed
        outcome, grown = turn.loaded
        added.update(grown)
        outcomes.append((turn.name, outcome))
    return outcomes
