"""core.gc_pause: cyclic collection off inside the block, and as it was after it."""

import gc
import subprocess
import sys

import pytest

from stockledger.core.gc_pause import collections_paused


def test_collections_are_paused_in_the_block_and_resumed_after_even_on_error() -> None:
    assert gc.isenabled()
    with collections_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collections_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_pause_inside_a_pause_leaves_collections_off_until_the_outer_one_ends() -> None:
    with collections_paused():
        with collections_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


CYCLE_AT_EXIT = """
import sys
from stockledger.core.gc_pause import no_collections_at_exit
if sys.argv[1] == "frozen":
    no_collections_at_exit()
    no_collections_at_exit()  # twice in one process (a test's commands): the same
class Cycle:
    def __del__(self) -> None:
        print("collected", flush=True)
cycle = Cycle()
cycle.me = cycle
del cycle
print("end", flush=True)
"""


@pytest.mark.parametrize(("mode", "printed"), [("as_python_does", "end\ncollected\n"), ("frozen", "end\n")])
def test_no_collection_runs_at_exit_once_asked(mode: str, printed: str) -> None:
    """Python's collection at exit finalizes a reference cycle; after no_collections_at_exit
    none runs (the objects are left to the system)."""
    done = subprocess.run(
        [sys.executable, "-c", CYCLE_AT_EXIT, mode], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == printed
