"""`stockledger load`'s progress: a Rich bar on a terminal, nothing at all when the output is piped.

The bar counts records (a facility document's products, a list's items, a count's variances), so
one document of 50,000 products moves it as it goes; each document finished settles its share.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from threading import Event
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def records_in(document: Any) -> int:
    """The records `import_document` will tick for a parsed document (at least one per document)."""
    if isinstance(document, list):
        return max(len(document), 1)
    if isinstance(document, dict):
        for key in ("products", "inventoryItemVariances"):
            if isinstance(document.get(key), list):
                return max(len(document[key]), 1)
    return 1


class Halted(Exception):
    """The run was interrupted: a document written on a thread of its own stops at its next tick."""


class Tracker:
    """Ticks of one document at a time, never past its share of the bar; silent without a bar."""

    def __init__(
        self, progress: Progress | None = None, task: TaskID | None = None, halt: Event | None = None
    ) -> None:
        self._progress, self._task, self._halt = progress, task, halt
        self._share = self._done = 0

    def document(self, name: str, records: int, halt: Event | None = None) -> "Tracker":
        """A tracker of its own for one document, started, moving the same bar: documents
        written at once (catalog/load_turns.py) each tick their own share (Rich's Progress
        takes advances from several threads). Once `halt` is set, its next tick raises Halted:
        a Ctrl-C reaches the main thread only, and the writes on the others stop there."""
        own = Tracker(self._progress, self._task, halt)
        own.start(name, records)
        return own

    def start(self, name: str, records: int) -> None:
        self._share, self._done = records, 0
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, current=name)

    def tick(self, steps: int = 1) -> None:
        """`steps` records done (a batch of products at once), never past the document's share."""
        if self._halt is not None and self._halt.is_set():
            raise Halted
        steps = min(steps, self._share - self._done)
        if steps > 0:
            self._done += steps
            self._advance(steps)

    def finish(self) -> None:
        self._advance(self._share - self._done)
        self._done = self._share

    @property
    def completed(self) -> float | None:
        """Where the bar stands (None without a bar)."""
        if self._progress is None or self._task is None:
            return None
        return next(t.completed for t in self._progress.tasks if t.id == self._task)

    def _advance(self, steps: int) -> None:
        if self._progress is not None and self._task is not None and steps > 0:
            self._progress.advance(self._task, steps)


@contextmanager
def load_progress(console: Console, total: int, what: str) -> Iterator[Tracker]:
    """A bar of `total` records while the block runs, when `console` is a terminal."""
    if not console.is_terminal:
        yield Tracker()
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
    )
    with Progress(*columns, console=console) as progress:
        yield Tracker(progress, progress.add_task(what, total=total, current=""))
