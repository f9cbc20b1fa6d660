"""The sample documents of seeds 001 and 002, shipped as they stand, for `stockledger demo`."""

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from stockledger.catalog.importer import ImportOutcome, import_parsed, parse_document
from stockledger.catalog.load_progress import Tracker, records_in
from stockledger.core.db import Database
from stockledger.core.dialects import analyze_grown, inserts_counted, rows_added_since
from stockledger.core.gc_pause import collections_paused


def seed_documents() -> list[tuple[str, Any]]:
    """(file name, parsed JSON) in load order: locations, products, items, physical inventory."""
    folder = resources.files("stockledger.catalog") / "seed_data"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return [(f.name, json.loads(f.read_text(encoding="utf-8"))) for f in files]


def load_documents(
    db: Database, documents: list[tuple[str, Any]], tracker: Tracker | None = None
) -> list[tuple[str, ImportOutcome]]:
    """Import each document in a transaction of its own (an upsert: safe to repeat); `tracker`
    (the CLI's progress bar) is ticked per record and settled per document committed. Then, once
    for the run, ANALYZE the tables the documents grew substantially (PostgreSQL).

    The next document is validated in a thread while this one is written (psycopg waits for the
    server without holding the GIL): a refusal of it still comes only after this one committed."""
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
            with collections_paused(), db.transaction() as session:
                before = inserts_counted(session)
                outcomes.append((name, import_parsed(session, parsed, tracker.tick)))
                added.update(rows_added_since(session, before))
            tracker.finish()
    finally:
        pool.shutdown(cancel_futures=True)
        analyze_grown(db.engine, added)  # what committed, even when a later document failed
    return outcomes
