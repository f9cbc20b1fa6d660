"""core.thread_switch: the switch interval in the block, the process's own back after it."""

import sys

import pytest

from stockledger.core.thread_switch import OVERLAP_SWITCH_SECONDS, quick_switches


def test_the_interval_is_short_in_the_block_and_restored_after() -> None:
    before = sys.getswitchinterval()
    with quick_switches():
        assert sys.getswitchinterval() == OVERLAP_SWITCH_SECONDS
    assert sys.getswitchinterval() == before


def test_the_interval_is_restored_after_an_error() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(KeyboardInterrupt), quick_switches(0.001):
        assert sys.getswitchinterval() == 0.001
        raise KeyboardInterrupt
    assert sys.getswitchinterval() == before
