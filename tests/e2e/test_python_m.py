"""`python -m stockledger` is the `stockledger` command (an outside tester: "No module named
stockledger.__main__"), with its name in the usage line."""

import os
import signal
import subprocess
import sys
import time
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


def test_ctrl_c_while_the_command_line_is_imported_ends_quietly(tmp_path: Path) -> None:
    """SIGINT 0.1 s after the start lands while the command line is imported (most of a second):
    exit 130 and one line, not a KeyboardInterrupt traceback (an outside tester), for the
    console script and for `python -m stockledger` alike."""
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'i.db'}"}
    script = Path(sys.executable).with_name("stockledger")
    for command in ([str(script)], [sys.executable, "-m", "stockledger"]):
        started = subprocess.Popen(
            [*command, "verify"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        time.sleep(0.1)
        started.send_signal(signal.SIGINT)
        out, err = started.communicate(timeout=60)
        assert "Traceback" not in err, err
        assert started.returncode == 130, (command, started.returncode, out, err)
        assert err == "interrupted: nothing was done\n", err
    assert not (tmp_path / "i.db").exists()  # no command ran


def test_once_the_command_ended_an_interrupt_no_longer_changes_its_exit_status(tmp_path: Path) -> None:
    """A reset's outcome printed, then SIGINT during the interpreter's shutdown: the process died
    by the signal (-2) instead of exiting with the command's status (an outside tester). Here the
    command ends, and SIGINT sent at that moment (from the process itself) is ignored."""
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    script = (
        "import os, signal, sys\n"
        "from stockledger.__main__ import main\n"
        "sys.argv = ['stockledger', 'migrate']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert ended.returncode == 0, (ended.returncode, ended.stdout, ended.stderr)
    assert "KeyboardInterrupt" not in ended.stderr
