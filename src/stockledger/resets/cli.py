"""`stockledger reset FILE.csv`: stream an ERP reset file into one transaction, with a progress bar."""

import gc
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stockledger.core.cli_database import database_command, open_database, user_or_exit
from stockledger.core.config import get_settings
from stockledger.core.errors import AppError
from stockledger.core.transactions import command_transaction
from stockledger.resets.progress import reading_then_applying
from stockledger.resets.rules import is_id
from stockledger.resets.service import ResetOutcome, reset_inventory
from stockledger.resets.sources import csv_lines

SHOWN_FAILURES = 20
KEPT_FAILURES = 1_000  # a file of a million bad lines must not fill memory with their reports
SOURCE_MOST = 255  # characters of the audit row's source (resets/schemas.py, the API's ?source=)

console = Console()
err = Console(stderr=True)


@database_command
def reset(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file")],
    source: Annotated[str | None, typer.Option(help="Recorded on the audit row (default: file name)")] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=100, max=10_000, help="Lines per set-based batch (default: STOCKLEDGER_RESET_BATCH_SIZE)"
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Who to record on the rows written (default: cli:<your OS user>)")
    ] = None,
) -> None:
    """Apply an ERP inventory reset CSV (facilityId,productId,quantityOnHand,availableToPromise).

    The whole file is one transaction: interrupted, it leaves nothing applied. Exit 0 when
    every line applied, 1 when some lines failed (the others are applied), 2 when the file
    cannot be used at all (nothing applied).
    """
    recorded = _source_or_exit(source, file)
    db = open_database(user_or_exit(user))
    # What start-up built lives as long as the command: out of the collector's way, so the full
    # collections a million-line run triggers walk only its own objects (bench/reset_1m.py:
    # 18 % of a 200,000-line sync was spent in them).
    gc.freeze()
    with _LateInterrupt() as late:
        try:
            with (
                reading_then_applying(file, console) as rows,  # its last frame after the commit
                command_transaction(db) as session,
            ):
                outcome = reset_inventory(
                    session,
                    csv_lines(rows),
                    recorded,
                    batch_size=batch_size or get_settings().reset_batch_size,
                    keep_failures=KEPT_FAILURES,
                )
                late.hold()  # the block's last step: the commit follows
        except (AppError, UnicodeDecodeError) as exc:
            detail = f"{exc.code}: {exc.detail}" if isinstance(exc, AppError) else f"not UTF-8: {exc}"
            _say(f"{file}: {detail}; nothing applied")
            raise typer.Exit(2) from exc
        except KeyboardInterrupt as exc:  # before the commit: said on stderr too, for a log off a terminal
            _say(f"{file}: interrupted; nothing applied (its one transaction rolled back)")
            raise typer.Exit(130) from exc
        finally:
            db.dispose()
        _print_outcome(outcome)
    if late.noted:  # too late to stop anything: the outcome above stands
        _say(f"{file}: interrupted after the commit: reset {outcome.inventory_reset_id} is applied")
    if outcome.lines_failed:
        raise typer.Exit(1)


class _LateInterrupt:
    """Ctrl-C once the reset is written and its commit starts: the interrupt is noted, not raised,
    and the reset is applied. Raised in the COMMIT or the ANALYZE after it, it ended the command
    with "nothing applied" when the reset was committed (outside tester)."""

    def __init__(self) -> None:
        self.noted = False
        self._previous: Any = None
        self._held = False

    def hold(self) -> None:
        """From now on the interrupt is noted (the main thread sets signal handlers: from another
        one, as in a test's runner, it stays as it was)."""
        if not self._held and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
            self._held = True

    def __enter__(self) -> "_LateInterrupt":
        return self

    def __exit__(self, *exc: object) -> None:
        """The interrupt raised again from here on, however the block ended."""
        if self._held:
            signal.signal(signal.SIGINT, self._previous)
            self._held = False

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.noted = True


def _source_or_exit(source: str | None, file: Path) -> str:
    """What the audit row records: `--source` as given (exit 2, one line, when it cannot be
    stored: over SOURCE_MOST characters, or bytes that are not UTF-8 text), else the file's name
    (its undecodable bytes shown as U+FFFD: a Latin-1 name from an ERP's drop folder)."""
    if not source:
        return file.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if len(source) > SOURCE_MOST:  # as the API's ?source= and "source" refuse it
        _say(f"stockledger: --source: at most {SOURCE_MOST} characters (got {len(source)})")
        raise typer.Exit(2)
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        _say("stockledger: --source: not UTF-8 text")
        raise typer.Exit(2) from None
    return source


def _say(line: str) -> None:
    """One line on stderr, in red, as given (no markup), unwrapped: a log's line."""
    err.print(line, style="red", markup=False, soft_wrap=True)


def _print_outcome(outcome: ResetOutcome) -> None:
    console.print(
        f"reset {outcome.inventory_reset_id}: {outcome.lines_total} lines, {outcome.lines_changed} changed, "
        f"{outcome.lines_unchanged} unchanged, {outcome.lines_failed} failed",
        soft_wrap=True,  # one line in a log
    )
    if not outcome.failures:
        return
    table = Table("line", "code", "facilityId", "productId", "message", title="Failed lines (not applied)")
    for f in outcome.failures[:SHOWN_FAILURES]:
        # Text, not markup: a line's "[red]" is shown as sent, not taken as a style
        table.add_row(str(f.line), f.code, _as_given(f.facility_id), _as_given(f.product_id), Text(f.message))
    console.print(table)
    if outcome.lines_failed > SHOWN_FAILURES:
        console.print(f"… and {outcome.lines_failed - SHOWN_FAILURES} more failed lines")


def _as_given(value: str | None) -> Text:
    """An id a line gave, as it gave it: quoted when it is no id (so whitespace shows), blank
    when there was none to show."""
    if value is None:
        return Text("")
    return Text(value if is_id(value) else repr(value))
