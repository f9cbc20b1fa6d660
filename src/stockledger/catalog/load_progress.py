"""`stockledger load`'s progress: a Rich bar on a terminal, nothing at all when the output is piped."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Step = Callable[[str], None]  # called once per document done, with what was done


@contextmanager
def load_progress(console: Console, total: int, what: str) -> Iterator[Step]:
    """A bar of `total` steps while the block runs, when `console` is a terminal; else a no-op step."""
    if not console.is_terminal:
        yield lambda _name: None
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
        task = progress.add_task(what, total=total, current="")

        def step(name: str) -> None:
            progress.update(task, advance=1, current=name)

        yield step
