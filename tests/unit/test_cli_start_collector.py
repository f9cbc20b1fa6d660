"""The command line's modules load with the garbage collector off (stockledger/cli.py), and it is on
again before any command runs: a command, and a test importing the module, collect as before."""

import subprocess
import sys

PROBE = """
import gc, sys
{before}
seen = []
class Watch:  # records the collector's state as each module finishes loading
    def find_spec(self, name, path=None, target=None):
        seen.append((name, gc.isenabled()))
        return None
sys.meta_path.insert(0, Watch())
from typer.main import get_command
from stockledger.cli import app
after_import, imported_end = gc.isenabled(), len(seen)
root = get_command(app)
ctx = root.make_context("stockledger", ["reset"], resilient_parsing=True)
loading = len(seen)
command = root.get_command(ctx, "reset")
assert command is not None
first = [name for name, _ in seen].index("stockledger.cli") + 1  # what stockledger.cli imports
imported = [on for _, on in seen[first:imported_end]]
print(after_import, gc.isenabled(), any(imported), any(on for _, on in seen[loading:]), len(imported) > 100,
      len(seen) > loading)
"""


def _probe(before: str = "") -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(before=before)], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_modules_load_uncollected_and_the_collector_is_on_after() -> None:
    after_import, after_command, during_import, during_command, *loaded = _probe()
    assert (after_import, after_command) == ("True", "True")
    assert loaded == ["True", "True"]  # SQLAlchemy & co. by the import, the reset's own by get_command
    assert (during_import, during_command) == ("False", "False")


def test_a_collector_turned_off_before_stays_off() -> None:
    after_import, after_command, *_ = _probe("gc.disable()")
    assert (after_import, after_command) == ("False", "False")
