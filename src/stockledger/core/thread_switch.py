"""How soon a thread waiting for the interpreter gets it back, around work that overlaps a
thread waiting for the database with a thread that computes."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

# While one thread computes, another whose answer came from the server waits for the
# interpreter up to the switch interval (5 ms by default) before it reads the answer and sends
# its next statement: a cost paid on each round trip. `stockledger load` writes its first
# document (about 40 round trips) while a thread validates the others: that phase took
# 0.70-0.83 s at 5 ms, 0.50-0.73 s at 0.5 ms (100,000 products in 10 documents, 2 CPUs).
OVERLAP_SWITCH_SECONDS = 0.0005


@contextmanager
def quick_switches(seconds: float = OVERLAP_SWITCH_SECONDS) -> Iterator[None]:
    """The interpreter's switch interval `seconds` in the block (process-wide), as it found it
    after: a thread waiting on the database gets the interpreter back within `seconds` of its
    answer, not within the default's 5 ms. The computing thread is switched out only when
    another one waits, so the shorter interval costs it next to nothing."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
