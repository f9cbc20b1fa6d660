"""A clock the test moves by hand, for code that takes a `clock` (monotonic seconds)."""

import time


class FakeClock:
    """Monotonic seconds that stand still until `advance` moves them. It starts at a whole second
    just past the real clock, so what was stamped before it took over is in its past, and sums of
    binary fractions (0.25, 0.5) land exactly."""

    def __init__(self) -> None:
        self.now = float(int(time.monotonic()) + 1)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
