"""Ending `serve --workers` workers within a bound (core.worker_balance's supervisor).

uvicorn's supervisor sends SIGTERM and then joins with no timeout: a worker that does not end (a
request that never finishes keeps its graceful shutdown waiting, or the process is stopped)
blocks the supervisor forever, SIGHUP and SIGTERM included. Here a worker gets the config's
`timeout_graceful_shutdown` plus EXIT_SECONDS (its lifespan shutdown: pools closed) after SIGTERM,
then SIGKILL.
"""

import logging
import signal
import time
from collections.abc import Callable, Sequence

from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")

EXIT_SECONDS = 5.0  # after the graceful shutdown: the app's lifespan shutdown, the process's exit
_POLL = 0.1  # how often a wait looks for a SIGINT or SIGTERM to the supervisor
_EXITS = frozenset({signal.SIGINT, signal.SIGTERM})


def stop_within(config: Config) -> float:
    """Seconds a worker has to end after SIGTERM before it is killed."""
    return (config.timeout_graceful_shutdown or 0) + EXIT_SECONDS


def stop_workers(processes: Sequence[Process], within: float, exiting: Callable[[], bool]) -> None:
    """SIGTERM to each of `processes`, then SIGKILL to those not ended within `within` seconds
    (at once when `exiting()` turns true: the supervisor was told to exit meanwhile)."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + within
    for process in processes:
        while process.process.is_alive() and time.monotonic() < deadline and not exiting():
            process.process.join(_POLL)
        if process.process.is_alive():
            if exiting():
                logger.warning(f"Child process [{process.pid}] had not ended: killed, the parent is exiting")
            else:
                logger.warning(f"Child process [{process.pid}] did not end within {within:g} s: killed")
            process.process.kill()
        process.process.join()


def told_to_exit(signal_queue: list[int]) -> bool:
    """Whether a SIGINT or SIGTERM waits in uvicorn's supervisor's queue (handled later)."""
    return any(sig in _EXITS for sig in signal_queue)


class BoundedStops(Multiprocess):
    """uvicorn's supervisor whose workers, retired or at exit, end within `stop_within`."""

    def terminate_all(self) -> None:
        """At exit (join_all follows): every worker ended, within the bound."""
        self._stop(list(self.processes))

    def join_all(self) -> None:
        """`terminate_all` has ended them all."""

    def _stop(self, processes: list[Process]) -> None:
        """SIGTERM, then SIGKILL to a worker not ended in time; at once when the supervisor is
        told to exit meanwhile (it would wait for that worker again)."""
        stop_workers(processes, stop_within(self.config), lambda: told_to_exit(self.signal_queue))
        for process in processes:
            self._ended(process)

    def _ended(self, process: Process) -> None:
        """What a subclass forgets of a worker that ended."""
