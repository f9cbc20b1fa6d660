"""Ours and the baseline measured in alternating rounds, so both meet the same machine.

On a shared virtual machine the speed of the same code moved by ±20 % from one minute to the
next (session 17: a reservation's worker CPU 422–661 µs, pgbench 4,379–5,576 tps, in runs minutes
apart), so one run of ours followed by one of the baseline measured the neighbours as much as the
product. Here the two alternate in the order ours, baseline, baseline, ours, ours, … (ABBA: a drift
in the machine's speed falls on both sides alike), and the ratio is the median of the ratios of
the adjacent pairs: one slow minute moves one pair, not the result. Ours runs first, so a
benchmark that measures "right after a load" still does.
"""

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rounds:
    """Each round's rate (ours, the baseline's), in the order they ran."""

    ours: list[float]
    baseline: list[float]

    @property
    def ratio(self) -> float:
        """The median over the adjacent pairs of ours ÷ the baseline."""
        return statistics.median(o / b for o, b in zip(self.ours, self.baseline, strict=True))

    def line(self, unit: str) -> str:
        pairs = ", ".join(f"{o:.0f}/{b:.0f}" for o, b in zip(self.ours, self.baseline, strict=True))
        return (
            f"rounds (ours/baseline {unit}, pairs in the order run): {pairs};"
            f" median pair ratio {self.ratio:.3f}"
        )


def alternate(rounds: int, ours: Callable[[], float], baseline: Callable[[], float]) -> Rounds:
    """`rounds` pairs, ABBA: ours, baseline; baseline, ours; ours, baseline; …"""
    if rounds < 1:
        raise ValueError("at least one round")
    mine: list[float] = []
    theirs: list[float] = []
    for pair in range(rounds):
        if pair % 2 == 0:
            mine.append(ours())
            theirs.append(baseline())
        else:
            theirs.append(baseline())
            mine.append(ours())
    return Rounds(mine, theirs)


def round_seconds(parser: argparse.ArgumentParser, seconds: float, rounds: int) -> int:
    """Each round's whole seconds, the same on both sides (pgbench -T and wrk -d take whole
    seconds): `seconds` split among `rounds`. Checked before the benchmark creates anything: a
    usage error (exit 2) unless there is a round and each gets a second at least."""
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    each = int(seconds // rounds)
    if each < 1:
        parser.error(f"--seconds {seconds:g} among {rounds} rounds leaves less than 1 s a round")
    return each
