"""`stockledger load` shows a Rich progress bar on a terminal (a pty here), and nothing extra when piped."""

import gc
import io
import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from stockledger.catalog import cli as catalog_cli
from stockledger.catalog.load_progress import load_progress, records_in
from stockledger.core.db import Database
from tests.integration.test_cli_settings import STOCKLEDGER
from tests.seeds import seed_json_documents

HIDE_CURSOR = "\x1b[?25l"  # a live Rich display hides the cursor while it redraws the bar


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    paths = []
    for n, (_, document) in enumerate(seed_json_documents()):
        path = tmp_path / f"doc{n}.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    return paths


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    return {**env, "STOCKLEDGER_DATABASE_URL": db_url, "TERM": "xterm-256color", "COLUMNS": "120"}


def _run_in_pty(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; everything it wrote, and its exit code."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        command, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=env
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout=120)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_load_on_a_terminal_shows_a_progress_bar(db_url: str, db: Database, files: list[str]) -> None:
    code, output = _run_in_pty([STOCKLEDGER, "load", *files], _env(db_url))
    assert code == 0, output
    assert HIDE_CURSOR in output
    assert f"{len(files)}/{len(files)}" in output  # every file read by the end
    assert "loading" in output
    assert "reading" in output
    assert "ledger rows written" in output  # the outcome table still follows


def test_the_bar_counts_the_records_of_one_big_document(db_url: str, db: Database, tmp_path: Path) -> None:
    products = [{"productId": f"P{n:04d}", "productName": f"Widget {n}"} for n in range(300)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"facilityId": "BIG", "facilityName": "Big", "products": products}))
    code, output = _run_in_pty([STOCKLEDGER, "load", str(path)], _env(db_url))
    assert code == 0, output
    assert "300/300" in output  # one document, yet the bar went product by product
    assert "1/1" in output  # the reading bar: one file


def test_records_in_a_document_and_a_tracker_never_overshoots() -> None:
    assert records_in([{}, {}, {}]) == 3
    assert records_in({"facilityId": "F", "products": [{}] * 5}) == 5
    assert records_in({"facilityId": "F"}) == 1
    assert records_in({"physicalInventoryId": "PI", "inventoryItemVariances": [{}, {}]}) == 2
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with load_progress(console, 3, "loading") as tracker:
        tracker.start("a", 2)
        for _ in range(5):  # more ticks than the document was counted for
            tracker.tick()
        assert tracker.completed == 2
        tracker.finish()
        tracker.start("b", 1)
        tracker.finish()
        assert tracker.completed == 3


def test_load_piped_prints_only_the_outcome(db_url: str, db: Database, files: list[str]) -> None:
    result = subprocess.run(
        [STOCKLEDGER, "load", *files], env=_env(db_url), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"{len(files)}/{len(files)}" not in result.stdout + result.stderr
    assert "loading" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout  # no cursor movement or colour codes in a pipe
    assert "ledger rows written" in result.stdout


def test_collections_stay_paused_from_the_first_validation_to_the_last_commit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each collection of the oldest generation walked every document waiting (its JSON, its
    models): `load_documents` pauses them for the whole run, validation included."""
    seen: list[bool] = []
    parse, load = catalog_cli.parse_document, catalog_cli.load_parsed

    def parse_noting(document: Any) -> Any:
        seen.append(gc.isenabled())
        return parse(document)

    def load_noting(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return load(*args)

    monkeypatch.setattr(catalog_cli, "parse_document", parse_noting)
    monkeypatch.setattr(catalog_cli, "load_parsed", load_noting)
    documents = [("a.json", {"facilityId": "GA"}), ("b.json", {"facilityId": "GB"})]
    assert len(catalog_cli.load_documents(db, documents)) == 2
    assert seen == [False] * 4
    assert gc.isenabled()
