"""tests/stress: the `stress` marker (`pytest tests/stress -m stress`), sized by environment variables.

The default test command runs every test here at CI size. `make stress` runs them at full
size: STOCKLEDGER_STRESS_ATTEMPTS=100000 (reservation attempts over HTTP),
STOCKLEDGER_STRESS_RESET_LINES=1000000 (the ERP reset killed with SIGKILL midway) and
STOCKLEDGER_STRESS_KILL_REQUESTS=20000 (requests while every database connection is killed
each 0.5 s).
"""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "stress: load and crash tests on PostgreSQL, sized by STOCKLEDGER_STRESS_* (tests/stress)"
    )
