"""`stockledger reset` on a terminal: the bar of the file's bytes, then "applying" while the
database works (PostgreSQL applies the whole file after the last byte is read, so the bar alone
sat at 100 % looking stuck), ending "applied in N s"; nothing of it when the output is piped."""

import io
import re
import subprocess
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from stockledger.core.db import Database
from stockledger.resets.progress import ApplyingColumn
from tests.integration.test_cli_load_progress import HIDE_CURSOR, _env, _run_in_pty
from tests.integration.test_cli_settings import STOCKLEDGER

CSV = "facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,FG001,50,\nFACILITY_1,FG002,,30\n"


def test_reset_on_a_terminal_shows_the_applying_phase(db_url: str, seeded: Database, tmp_path: Path) -> None:
    path = tmp_path / "reset.csv"
    path.write_text(CSV)
    code, output = _run_in_pty([STOCKLEDGER, "reset", str(path)], _env(db_url))
    assert code == 0, output
    assert HIDE_CURSOR in output
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)  # no colours, no cursor moves
    assert re.search(r"97/97 bytes \S+ applied in \d+\.\d s\r\n", plain), plain  # the last frame
    assert "2 lines, 2 changed, 0 unchanged, 0 failed" in plain


def test_reset_piped_draws_no_bar(db_url: str, seeded: Database, tmp_path: Path) -> None:
    path = tmp_path / "reset.csv"
    path.write_text(CSV)
    result = subprocess.run(
        [STOCKLEDGER, "reset", str(path)], env=_env(db_url), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "appl" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout
    assert "2 lines, 2 changed, 0 unchanged, 0 failed" in result.stdout


def test_the_applying_column_starts_at_the_last_byte_and_ends_with_the_reset() -> None:
    column = ApplyingColumn()
    progress = Progress(column, console=Console(file=io.StringIO(), force_terminal=True), auto_refresh=False)
    task = progress.add_task("reset", total=100)
    progress.advance(task, 60)
    assert str(column.render(progress.tasks[0])) == ""  # still reading
    progress.advance(task, 40)
    assert "applying … 0 s" in str(column.render(progress.tasks[0]))
    time.sleep(0.2)
    column.end(applied=True)
    ended = str(column.render(progress.tasks[0]))
    assert re.fullmatch(r"applied in 0\.[2-9] s", ended), ended  # since the last byte was read
    refused = ApplyingColumn()
    refused.end(applied=False)
    assert str(refused.render(progress.tasks[0])) == "not applied"
