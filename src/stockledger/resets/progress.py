"""`stockledger reset`'s progress on a terminal: the file's bytes as they are read, then the
database applying them. PostgreSQL applies the whole file once it is read (many seconds at a
million lines), so a bar alone would sit at 100 % looking stuck; the second phase says it is
working, and for how long. Not on a non-terminal (a pipe, a log): nothing is drawn there.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # Rich's "dots", a frame each tenth of a second


class ApplyingColumn(ProgressColumn):
    """Empty while the file is read; then a spinner, "applying" and the seconds since its last
    byte was read; at the end "applied in N s" (or "not applied" when the reset was refused).
    Progress's clock (time.monotonic) throughout."""

    def __init__(self) -> None:
        super().__init__()
        self._ended: tuple[bool, float] | None = None  # (applied, when)

    def render(self, task: Task) -> RenderableType:
        read = _read_at(task)
        if self._ended is not None:
            applied, when = self._ended
            if not applied:
                return Text("not applied")
            return Text("applied" if read is None else f"applied in {when - read:.1f} s")
        if read is None:
            return Text("")
        now = time.monotonic()
        frame = SPINNER[int(now * 10) % len(SPINNER)]
        return Text(f"{frame} applying … {now - read:.0f} s")

    def end(self, applied: bool) -> None:
        """The reset is over (applied and committed, or refused): its last frame says so."""
        self._ended = (applied, time.monotonic())


def _read_at(task: Task) -> float | None:
    """When the file's last byte was read (None: not yet)."""
    if task.start_time is None or task.finished_time is None:
        return None
    return task.start_time + task.finished_time


@contextmanager
def reading_then_applying(path: Path, console: Console) -> Iterator[TextIO]:
    """The CSV at `path` opened as the reset reads it (UTF-8, a BOM dropped, newline=""), with the
    two-phase bar on `console` while the block runs, when it is a terminal."""
    applying = ApplyingColumn()
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        applying,
    )
    with (
        Progress(*columns, console=console, disable=not console.is_terminal) as progress,
        progress.open(path, "r", encoding="utf-8-sig", newline="", description="reset") as rows,
    ):
        try:
            yield rows
        except BaseException:
            applying.end(applied=False)
            raise
        applying.end(applied=True)
