"""Seed documents loaded by the command line (`stockledger demo`, `stockledger load`): the
command owns the transactions, one per document (docs/architecture.md, Transactions)."""

import copy
from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from stockledger.catalog.importer import ImportOutcome, Parsed, parse_document
from stockledger.catalog.load_progress import Tracker, records_in
from stockledger.catalog.seeds import load_parsed
from stockledger.core.db import Database
from stockledger.core.dialects import analyze_grown
from stockledger.core.errors import AppError
from stockledger.core.gc_pause import collections_paused
from stockledger.core.transactions import command_transaction


def load_documents(
    db: Database, documents: list[tuple[str, Any]], tracker: Tracker | None = None
) -> list[tuple[str, ImportOutcome]]:
    """Validate every document first, then import each in a transaction of its own (an upsert:
    safe to repeat); `tracker` (the CLI's progress bar) is ticked per record and settled per
    document committed. Then, once for the run, ANALYZE the tables the documents grew
    substantially (PostgreSQL).

    A document that does not validate (its schema, the 50,000-record bound, a duplicate line)
    refuses the whole run before anything is written: the refusal's detail starts with its
    name. A refusal while writing (a missing facility, say) leaves the documents before it
    committed. Cyclic garbage collection is paused for the whole run (core.gc_pause): each
    collection of the oldest generation walked every document's JSON and models again, 2/3 of
    the CPU of a 100,000-product load when only the imports were paused."""
    tracker = tracker or Tracker()
    with collections_paused():
        parsed = [(name, _parsed(name, document)) for name, document in documents]
        outcomes = []
        added: Counter[str] = Counter()
        try:
            for (name, document), (_, valid) in zip(documents, parsed, strict=True):
                tracker.start(name, records_in(document))
                with command_transaction(db) as session:
                    outcome, grown = _loaded(name, session, valid, tracker)
                outcomes.append((name, outcome))
                added.update(grown)
                tracker.finish()
        finally:
            analyze_grown(db.engine, added)  # what committed, even when a later document failed
    return outcomes


def _parsed(name: str, document: Any) -> Parsed:
    try:
        return parse_document(document)
    except AppError as exc:
        raise _named(name, exc, "nothing written") from exc


def _loaded(
    name: str, session: Session, valid: Parsed, tracker: Tracker
) -> tuple[ImportOutcome, dict[str, int]]:
    try:
        return load_parsed(session, valid, tracker.tick)
    except AppError as exc:
        raise _named(name, exc, "this document rolled back, the ones before it committed") from exc


def _named(name: str, exc: AppError, written: str) -> AppError:
    """The same refusal, its detail naming the document and what was written."""
    named = copy.copy(exc)
    named.detail = f"{name}: {exc.detail} ({written})"
    named.args = (named.detail,)
    return named
