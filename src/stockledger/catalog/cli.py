"""Seed documents loaded by the command line (`stockledger demo`, `stockledger load`): the
command owns the transactions, one per document (docs/architecture.md, Transactions)."""

import copy
from collections import Counter
from functools import partial
from threading import Thread
from typing import Any

from sqlalchemy.orm import Session

from stockledger.catalog.importer import ALONE, Alongside, ImportOutcome, Parsed, parse_document
from stockledger.catalog.load_progress import Tracker, records_in
from stockledger.catalog.load_turns import write_in_turn
from stockledger.catalog.seeds import load_parsed
from stockledger.core.db import Database
from stockledger.core.dialects import analyze_grown
from stockledger.core.errors import AppError
from stockledger.core.gc_pause import collections_paused
from stockledger.core.thread_switch import quick_switches
from stockledger.core.transactions import command_transaction


def load_documents(
    db: Database,
    documents: list[tuple[str, Any]],
    tracker: Tracker | None = None,
    committed: list[tuple[str, ImportOutcome]] | None = None,
) -> list[tuple[str, ImportOutcome]]:
    """Validate every document first, then import each in a transaction of its own (an upsert:
    safe to repeat); `tracker` (the CLI's progress bar) is ticked per record and settled per
    document committed. Then, once for the run, ANALYZE the tables the documents grew
    substantially (PostgreSQL).

    A document that does not validate (its schema, the 50,000-record bound, a duplicate line)
    refuses the whole run before anything is committed: the refusal's detail starts with its
    name. The first document is written while the others are validated (`_first_held`: the
    server writes while this process validates), and committed only once they all are. The
    others commit in their order, each written on a connection of its own, the next one
    alongside the one ahead where the two cannot meet (catalog/load_turns.py: both a facility's,
    no product in common, the facility and its locations as the one ahead gives them): the
    server writes two at once. A refusal while writing (a missing facility, say) leaves the
    documents before it committed, none after it; `committed` (the caller's list) then holds
    their outcomes, as the answer would have.
    Cyclic garbage collection is paused for the whole run (core.gc_pause): each collection of
    the oldest generation walked every document's JSON and models again, 2/3 of the CPU of a
    100,000-product load when only the imports were paused. Threads switch quickly for the
    whole run (core.thread_switch): a thread waiting on the server (the first document's writes,
    a COPY behind) gets the interpreter back within 0.5 ms of its answer, not 5 ms, while
    another one computes (the validation of the others, the next batch's rows)."""
    tracker = tracker or Tracker()
    if not documents:
        return []
    with collections_paused(), quick_switches():
        outcomes = committed if committed is not None else []
        added: Counter[str] = Counter()
        try:
            first, rest = documents[0], documents[1:]
            outcome, grown, parsed = _first_held(db, first, rest, tracker)
            outcomes.append((first[0], outcome))
            added.update(grown)
            later = [
                (name, valid, records_in(doc)) for (name, doc), (_, valid) in zip(rest, parsed, strict=True)
            ]
            transaction = partial(command_transaction, db)
            write_in_turn(transaction, db.writes_at_once, later, tracker, _loaded, added, outcomes)
        finally:
            analyze_grown(db.engine, added)  # what committed, even when a later document failed
    return outcomes


def _first_held(
    db: Database, first: tuple[str, Any], rest: list[tuple[str, Any]], tracker: Tracker
) -> tuple[ImportOutcome, dict[str, int], list[tuple[str, Parsed]]]:
    """The first document validated and written, the others validated meanwhile in a thread
    (the writes mostly wait for the server); its transaction commits only once they all are
    valid, else rolls back: nothing is committed before every document is valid. A refusal of
    a later document is the answer even when the first one's writing was refused too, as when
    every document was validated before any was written."""
    name, document = first
    valid = _parsed(name, document)
    parsed: list[tuple[str, Parsed]] = []
    refused: list[BaseException] = []

    def validate_rest() -> None:
        try:
            parsed.extend((later, _parsed(later, doc)) for later, doc in rest)
        except BaseException as exc:  # raised in the caller's thread
            refused.append(exc)

    validating = Thread(target=validate_rest, name="stockledger-validate", daemon=True)
    validating.start()
    tracker.start(name, records_in(document))
    try:
        with command_transaction(db) as session:
            outcome, grown = _loaded(name, session, valid, tracker, written="nothing committed")
            _all_valid(validating, refused)
    except AppError:
        _all_valid(validating, refused)  # a later document's refusal is the answer
        raise
    tracker.finish()
    return outcome, grown, parsed


def _all_valid(validating: Thread, refused: list[BaseException]) -> None:
    validating.join()
    if refused:
        raise refused[0]


def _parsed(name: str, document: Any) -> Parsed:
    try:
        return parse_document(document)
    except AppError as exc:
        raise _named(name, exc, "nothing written") from exc


def _loaded(
    name: str,
    session: Session,
    valid: Parsed,
    tracker: Tracker,
    alongside: Alongside = ALONE,
    *,
    written: str = "this document rolled back, the ones before it committed",
) -> tuple[ImportOutcome, dict[str, int]]:
    try:
        return load_parsed(session, valid, tracker.tick, alongside)
    except AppError as exc:
        raise _named(name, exc, written) from exc


def _named(name: str, exc: AppError, written: str) -> AppError:
    """The same refusal, its detail naming the document and what was written."""
    named = copy.copy(exc)
    named.detail = f"{name}: {exc.detail} ({written})"
    named.args = (named.detail,)
    return named
