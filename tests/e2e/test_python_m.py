"""`python -m stockledger` is the `stockledger` command (an outside tester: "No module named
stockledger.__main__"), with its name in the usage line."""

import os
import subprocess
import sys
from pathlib import Path


def test_python_m_stockledger_runs_a_command(tmp_path: Path) -> None:
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    usage = subprocess.run(
        [sys.executable, "-m", "stockledger", "--help"], capture_output=True, text=True, env=env
    )
    assert usage.returncode == 0, usage.stderr
    assert "Usage: stockledger" in usage.stdout
    migrated = subprocess.run(
        [sys.executable, "-m", "stockledger", "migrate"], capture_output=True, text=True, env=env, timeout=120
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert (tmp_path / "m.db").exists()
