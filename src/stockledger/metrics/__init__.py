"""Prometheus metrics: request latency, reservations, ledger rows posted."""
