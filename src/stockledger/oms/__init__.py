"""Inbound OMS messages (SPEC §7), applied through the same services as the API: an entry
like the API's routes, above the services (events/ is the outbox and its publisher)."""
