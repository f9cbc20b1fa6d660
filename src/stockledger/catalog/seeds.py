"""The sample documents of seeds 001 and 002, shipped as they stand, for `stockledger demo`."""

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from stockledger.catalog.importer import ImportOutcome, import_document
from stockledger.core.db import Database


def seed_documents() -> list[tuple[str, Any]]:
    """(file name, parsed JSON) in load order: locations, products, items, physical inventory."""
    folder = resources.files("stockledger.catalog") / "seed_data"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return [(f.name, json.loads(f.read_text(encoding="utf-8"))) for f in files]


def load_documents(
    db: Database, documents: list[tuple[str, Any]], done: Callable[[str], None] | None = None
) -> list[tuple[str, ImportOutcome]]:
    """Import each document in a transaction of its own (an upsert: safe to repeat); `done` is told
    each document's name once it is committed (the CLI's progress bar)."""
    outcomes = []
    for name, document in documents:
        with db.transaction() as session:
            outcomes.append((name, import_document(session, document)))
        if done is not None:
            done(name)
    return outcomes
