"""With PROMETHEUS_MULTIPROC_DIR, /metrics adds up the counts of every worker process."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = (
    "from stockledger.metrics.registry import LEDGER_ROWS, RESERVATIONS\n"
    "RESERVATIONS.labels('reserved').inc()\n"
    "LEDGER_ROWS.inc(3)\n"
)
SCRAPE = (
    "import sys\n"
    "from stockledger.metrics.registry import exposition\n"
    "sys.stdout.write(exposition()[0].decode())\n"
)


def _run(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def test_the_exposition_sums_every_worker(tmp_path: Path) -> None:
    _run(WORKER, tmp_path)
    _run(WORKER, tmp_path)
    values = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(_run(SCRAPE, tmp_path))
        for s in family.samples
    }
    assert values[("stockledger_reservations_total", (("outcome", "reserved"),))] == 2
    assert values[("stockledger_ledger_rows_posted_total", ())] == 6
