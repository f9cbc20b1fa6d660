"""core.gc_pause: cyclic collection off inside the block, and as it was after it."""

import gc

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
