"""Seed documents loaded by the command line (`stockledger demo`, `stockledger load`): the
command owns the transactions, one per document (docs/architecture.md, Transactions)."""

from collections import Counter
from typing import Any

from stockledger.catalog.importer import ImportOutcome
from stockledger.catalog.load_progress import Tracker, records_in
from stockledger.catalog.seeds import load_document
from stockledger.core.db import Database
from stockledger.core.dialects import analyze_grown
from stockledger.core.transactions import command_transaction


def load_documents(
    db: Database, documents: list[tuple[str, Any]], tracker: Tracker | None = None
) -> list[tuple[str, ImportOutcome]]:
    """Import each document in a transaction of its own (an upsert: safe to repeat); `tracker`
    (the CLI's progress bar) is ticked per record and settled per document committed. Then, once
    for the run, ANALYZE the tables the documents grew substantially (PostgreSQL)."""
    tracker = tracker or Tracker()
    outcomes = []
    added: Counter[str] = Counter()
    try:
        for name, document in documents:
            tracker.start(name, records_in(document))
            with command_transaction(db) as session:
                outcome, grown = load_document(session, document, tracker.tick)
            outcomes.append((name, outcome))
            added.update(grown)
            tracker.finish()
    finally:
        analyze_grown(db.engine, added)  # what committed, even when a later document failed
    return outcomes
