"""Seed documents loaded by the command line (`stockledger demo`, `stockledger load`): the
command owns the transactions, one per document (docs/architecture.md, Transactions)."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stockledger.catalog.importer import ImportOutcome, parse_document
from stockledger.catalog.load_progress import Tracker, records_in
from stockledger.catalog.seeds import load_parsed
from stockledger.core.db import Database
from stockledger.core.dialects import analyze_grown
from stockledger.core.gc_pause import collections_paused
from stockledger.core.transactions import command_transaction


def load_documents(
    db: Database, documents: list[tuple[str, Any]], tracker: Tracker | None = None
) -> list[tuple[str, ImportOutcome]]:
    """Import each document in a transaction of its own (an upsert: safe to repeat); `tracker`
    (the CLI's progress bar) is ticked per record and settled per document committed. Then, once
    for the run, ANALYZE the tables the documents grew substantially (PostgreSQL).

    The next document is validated in a thread while this one is written (psycopg waits for the
    server without holding the GIL): a refusal of it still comes only after this one committed.
    Cyclic garbage collection is paused while a document is imported (core.gc_pause)."""
    tracker = tracker or Tracker()
    outcomes = []
    added: Counter[str] = Counter()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
    try:
        following = pool.submit(parse_document, documents[0][1]) if documents else None
        for n, (name, document) in enumerate(documents):
            tracker.start(name, records_in(document))
            assert following is not None
            parsed = following.result()
            if n + 1 < len(documents):
                following = pool.submit(parse_document, documents[n + 1][1])
            with collections_paused(), command_transaction(db) as session:
                outcome, grown = load_parsed(session, parsed, tracker.tick)
            outcomes.append((name, outcome))
            added.update(grown)
            tracker.finish()
    finally:
        pool.shutdown(cancel_futures=True)
        analyze_grown(db.engine, added)  # what committed, even when a later document failed
    return outcomes
