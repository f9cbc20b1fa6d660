"""The inbound OMS consumer: messages from JetStream applied through the features' services.

A layer of its own above the features it drives (reservations, shipping, returns), beside the
HTTP API, the pages and the CLI (docs/architecture.md, Layers)."""
