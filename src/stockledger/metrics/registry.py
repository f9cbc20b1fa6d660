"""The metrics and how they are exposed, one process or several (PROMETHEUS_MULTIPROC_DIR)."""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_SECONDS = Histogram(
    "stockledger_request_duration_seconds",
    "HTTP request latency by method, route template and status",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RESERVATIONS = Counter(
    "stockledger_reservations",
    "Reservation requests (one item or a whole order) by outcome",
    ("outcome",),
)
LEDGER_ROWS = Counter(
    "stockledger_ledger_rows_posted",
    "InventoryItemDetail rows committed (every change of QOH/ATP/accounting totals)",
)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric; across all workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
