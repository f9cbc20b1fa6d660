"""bench/rounds.py: ours and the baseline alternate ABBA, ours first, and the RATIO is the median
of the adjacent pairs' ratios (one slow minute moves one pair, not the result)."""

from types import ModuleType

import pytest

from tests.bench_support import bench_module


def _rounds() -> ModuleType:
    return bench_module("rounds")


def test_the_sides_alternate_abba_ours_first() -> None:
    ran: list[str] = []

    def side(name: str, rate: float) -> float:
        ran.append(name)
        return rate

    measured = _rounds().alternate(4, lambda: side("ours", 1.0), lambda: side("base", 2.0))
    assert ran == ["ours", "base", "base", "ours", "ours", "base", "base", "ours"]
    assert measured.ours == [1.0] * 4
    assert measured.baseline == [2.0] * 4


def test_each_round_pairs_with_its_neighbour_and_the_ratio_is_their_median() -> None:
    ours = iter([100.0, 90.0, 50.0, 110.0])  # round 3: the machine slowed down for ours alone
    baseline = iter([200.0, 180.0, 200.0, 220.0])
    measured = _rounds().alternate(4, lambda: next(ours), lambda: next(baseline))
    assert [o / b for o, b in zip(measured.ours, measured.baseline, strict=True)] == [0.5, 0.5, 0.25, 0.5]
    assert measured.ratio == 0.5
    assert "100/200, 90/180, 50/200, 110/220" in measured.line("/s")
    assert "median pair ratio 0.500" in measured.line("/s")


def test_no_rounds_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one round"):
        _rounds().alternate(0, lambda: 1.0, lambda: 1.0)


def test_each_round_gets_whole_seconds_and_impossible_splits_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    round_seconds = _rounds().round_seconds
    parser = argparse.ArgumentParser(prog="bench")
    assert round_seconds(parser, 20, 4) == 5
    assert round_seconds(parser, 5, 2) == 2  # the same whole seconds on both sides (pgbench -T, wrk -d)
    for seconds, rounds, message in ((8, 0, "--rounds must be at least 1"), (2, 3, "less than 1 s a round")):
        with pytest.raises(SystemExit) as stopped:
            round_seconds(parser, seconds, rounds)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err
