"""`stockledger load` writes the next facility document while the one ahead is still written
(catalog/load_turns.py) where the two cannot meet, on PostgreSQL: the transactions still commit
in document order, a refusal still leaves the documents before it committed and none after it,
and documents that share a product, or whose facility the one ahead changes, wait their turn."""

import io
import signal
import threading
import time
from collections.abc import Iterator
from threading import Event, Thread
from typing import Any

import pytest
from psycopg.errors import LockNotAvailable
from rich.console import Console
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from stockledger.catalog import cli as catalog_cli
from stockledger.catalog.cli import load_documents
from stockledger.catalog.import_rows import merge
from stockledger.catalog.importer import ALONE, Alongside
from stockledger.catalog.load_progress import load_progress
from stockledger.core.db import Database
from stockledger.core.errors import ValidationFailed
from stockledger.ledger.models import Facility, Product, ProductFacility

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

HEADER = {"facilityId": "FT", "facilityName": "Turns", "facilityLocations": [{"locationSeqId": "L1"}]}


def _products(*ids: str) -> dict[str, Any]:
    return {**HEADER, "products": [{"productId": pid, "productName": f"Name {pid}"} for pid in ids]}


FIRST, SECOND, THIRD, FOURTH = _products("P1"), _products("P2"), _products("P3"), _products("P4")
UNKNOWN_LOCATION = {
    **HEADER,
    "products": [{"productId": "PX", "productFacilityLocations": [{"locationSeqId": "NO"}]}],
}


def _count(db: Database, column: Any) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count(column))) or 0)


def _product_ids(valid: Any) -> list[str]:
    """The product ids of a validated facility document (read as rows, or as models)."""
    _, doc = valid
    rows = doc[1] if isinstance(doc, tuple) else None
    return list(rows.ids) if rows is not None else [p.product_id for p in doc.products]


class Watch:
    """load_parsed wrapped: which document each session writes, the order of the commits, and
    a hold on a document until another one has started writing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: dict[str, Event] = {}
        self.holds: dict[
            str, tuple[str, str]
        ] = {}  # held product -> (when: "placed"/"written", until product)
        self.waited: dict[str, bool] = {}
        self.commits: list[str] = []
        self.unlocked: dict[str, bool] = {}  # product -> whether written alongside another
        load = catalog_cli.load_parsed

        def load_watched(session: Session, valid: Any, tick: Any, alongside: Alongside = ALONE) -> Any:
            first = _product_ids(valid)[0]
            session.info["watched"] = first
            self.unlocked[first] = alongside.unlocked
            self._event(first).set()

            def placed_watched(wrote: bool) -> None:
                alongside.placed(wrote)
                self._hold(first, "placed")

            loaded = load(session, valid, tick, Alongside(placed_watched, alongside.unlocked))
            self._hold(first, "written")
            return loaded

        monkeypatch.setattr(catalog_cli, "load_parsed", load_watched)

    def _event(self, product: str) -> Event:
        return self.started.setdefault(product, Event())

    def _hold(self, product: str, when: str) -> None:
        held = self.holds.get(product)
        if held is not None and held[0] == when:
            self.waited[product] = self._event(held[1]).wait(timeout=5)

    def committed(self, session: Session) -> None:
        if "watched" in session.info:
            self.commits.append(session.info["watched"])


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watch]:
    watching = Watch(monkeypatch)
    event.listen(Session, "after_commit", watching.committed)
    try:
        yield watching
    finally:
        event.remove(Session, "after_commit", watching.committed)


def test_the_next_document_is_written_while_the_one_ahead_is_and_commits_after_it(
    db: Database, watch: Watch
) -> None:
    watch.holds["P2"] = ("written", "P3")  # the second waits, written, until the third writes
    documents = [("1.json", FIRST), ("2.json", SECOND), ("3.json", THIRD), ("4.json", FOURTH)]
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with load_progress(console, 4, "loading") as tracker:
        outcomes = load_documents(db, documents, tracker)
        assert tracker.completed == 4  # each document ticked its own share of the one bar
    assert watch.waited == {"P2": True}  # one after the other, the third would never have started
    assert watch.commits == ["P1", "P2", "P3", "P4"]
    assert watch.unlocked == {"P1": False, "P2": False, "P3": True, "P4": True}
    assert [name for name, _ in outcomes] == ["1.json", "2.json", "3.json", "4.json"]
    assert [o.created["products"] for _, o in outcomes] == [1, 1, 1, 1]
    assert [o.unchanged["facilities"] for _, o in outcomes] == [0, 1, 1, 1]
    assert (_count(db, Product.product_id), _count(db, ProductFacility.product_id)) == (4, 4)


def test_a_refusal_alongside_leaves_the_one_ahead_committed_and_none_after_it(
    db: Database, watch: Watch
) -> None:
    watch.holds["P2"] = ("written", "PX")  # the refused one is written alongside the second
    documents = [("1.json", FIRST), ("2.json", SECOND), ("3.json", UNKNOWN_LOCATION), ("4.json", FOURTH)]
    with pytest.raises(ValidationFailed) as refused:
        load_documents(db, documents)
    assert watch.waited == {"P2": True}
    assert refused.value.detail.startswith("3.json: Location NO is not a location of facility FT")
    assert refused.value.detail.endswith("(this document rolled back, the ones before it committed)")
    assert watch.commits == ["P1", "P2"]
    with db.reading() as session:
        assert sorted(session.scalars(select(Product.product_id))) == ["P1", "P2"]


def test_the_one_alongside_rolls_back_when_the_one_ahead_is_refused(db: Database, watch: Watch) -> None:
    """The third starts writing before the second is refused: the third rolls back."""
    watch.holds["PX"] = ("placed", "P3")  # refused only once the third is writing
    documents = [("1.json", FIRST), ("2.json", UNKNOWN_LOCATION), ("3.json", THIRD)]
    with pytest.raises(ValidationFailed) as refused:
        load_documents(db, documents)
    assert watch.waited == {"PX": True}
    assert refused.value.detail.startswith("2.json: Location NO")
    assert watch.commits == ["P1"]
    assert _count(db, Product.product_id) == 1


def test_documents_that_share_a_product_are_written_one_after_the_other(db: Database, watch: Watch) -> None:
    watch.holds["P2"] = ("written", "P3")
    renamed = {**HEADER, "products": [{"productId": "P3"}, {"productId": "P2", "productName": "Later"}]}
    load_documents(db, [("1.json", FIRST), ("2.json", SECOND), ("3.json", renamed)])
    assert watch.waited == {"P2": False}  # the third started only once the second committed
    with db.reading() as session:
        assert session.scalar(select(Product.product_name).where(Product.product_id == "P2")) == "Later"


def test_a_document_waits_for_the_one_ahead_that_changes_its_facility(db: Database, watch: Watch) -> None:
    watch.holds["P2"] = ("written", "P3")
    renamed = {**SECOND, "facilityName": "Renamed"}
    load_documents(db, [("1.json", FIRST), ("2.json", renamed), ("3.json", THIRD)])
    assert watch.waited == {"P2": False}
    with db.reading() as session:  # the third gives the old name again: it wins, as it comes last
        assert session.scalar(select(Facility.facility_name)) == "Turns"


FACILITY_AS_GIVEN = {"facility_id": "FT", "facility_name": "Turns"}


def _lock_the_facility_at_once(db: Database) -> None:
    with db.engine.connect() as other:
        other.execute(text("SELECT facility_id FROM facility FOR UPDATE NOWAIT")).all()
        other.rollback()


def test_a_row_there_as_given_is_merged_without_a_lock_alongside(db: Database) -> None:
    """catalog/import_rows.merge(unlocked=True), as for a document written alongside another: a
    row there as given is read and left alone, where ON CONFLICT DO UPDATE locks it until the
    commit even to write nothing."""
    load_documents(db, [("1.json", FIRST)])
    with db.transaction() as session:
        assert merge(session, Facility, FACILITY_AS_GIVEN, ["facility_id"], unlocked=True) == "unchanged"
        _lock_the_facility_at_once(db)  # nothing holds it


def test_a_document_written_alone_still_locks_the_rows_it_merges(db: Database) -> None:
    """Elsewhere (POST /v1/import, the first document of a load) the lock stays: two imports of
    one facility at once take turns there, as they always did."""
    load_documents(db, [("1.json", FIRST)])
    with db.transaction() as session:
        assert merge(session, Facility, FACILITY_AS_GIVEN, ["facility_id"]) == "unchanged"
        with pytest.raises(OperationalError) as refused:
            _lock_the_facility_at_once(db)
        assert isinstance(refused.value.orig, LockNotAvailable)


TERMINATE_IDLE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND state = 'idle in transaction'"
)


def _backends(db: Database, sql: str, **params: Any) -> list[int]:
    with db.engine.connect() as look:
        return list(look.execute(text(sql), params).scalars())


def test_a_third_transaction_between_the_two_does_not_hold_the_load_for_ever(db: Database) -> None:
    """Another client holds a product the one ahead upserts, then waits for a product the one
    behind wrote: PostgreSQL sees the one ahead wait for it and it for the one behind, not the
    one behind wait for the one ahead (in the process). The one behind gives its locks back
    (rolls back) and is written again after the one ahead: nothing waits for ever."""
    load_documents(db, [("0.json", _products("A1"))])
    loaded: list[Any] = []
    with db.engine.connect() as other:
        other.execute(text("SET lock_timeout = '30s'"))
        other.execute(text("SELECT product_id FROM product WHERE product_id = 'A1' FOR UPDATE"))
        mine = other.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def load() -> None:
            documents = [
                ("1.json", _products("Z1")),
                ("2.json", _products("A1", "A2")),
                ("3.json", _products("B1")),
            ]
            loaded.append(load_documents(db, documents))

        loading = Thread(target=load, daemon=True)
        loading.start()
        deadline = time.monotonic() + 30
        sql = "SELECT pid FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
        while not _backends(db, sql, pid=mine) and time.monotonic() < deadline:
            time.sleep(0.05)  # the second document (ahead) waits for this client's lock on A1
        assert _backends(db, sql, pid=mine), "the document ahead never waited on the lock"
        idle = "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND pid <> :pid"
        settle = time.monotonic() + 3
        while not _backends(db, idle, pid=mine) and time.monotonic() < settle:
            time.sleep(0.05)  # the third (behind) wrote B1 and waits for the second; or gave way
        # B1: the row the third wrote, if it still holds it; a wait PostgreSQL sees
        other.execute(
            text(
                "INSERT INTO product (product_id, product_name, created_stamp) VALUES ('B1', 'X', now())"
                " ON CONFLICT DO NOTHING"
            )
        )
        other.commit()
        loading.join(timeout=30)
        if loading.is_alive():  # the old code: all three held; free them for the next test
            with db.engine.connect() as look:
                look.execute(text(TERMINATE_IDLE))
            loading.join(timeout=30)
            pytest.fail("the load waited for ever on the document ahead")
    assert [name for name, _ in loaded[0]] == ["1.json", "2.json", "3.json"]
    with db.reading() as session:
        names = dict(session.execute(select(Product.product_id, Product.product_name)).tuples().all())
    assert names == {"A1": "Name A1", "Z1": "Name Z1", "A2": "Name A2", "B1": "Name B1"}
    assert _count(db, ProductFacility.product_id) == 4


def test_an_interrupt_ends_a_document_waiting_on_a_row_lock_at_once(db: Database) -> None:
    """Ctrl-C reaches the main thread only: a document written on another thread that waits on
    another client's row lock has its statement cancelled, and nothing of it commits."""
    load_documents(db, [("0.json", _products("A1"))])
    with db.engine.connect() as other:
        other.execute(text("SELECT product_id FROM product WHERE product_id = 'A1' FOR UPDATE"))
        main = threading.main_thread().ident
        assert main is not None
        threading.Timer(1.5, signal.pthread_kill, (main, signal.SIGINT)).start()
        started = time.monotonic()
        committed: list[Any] = []
        with pytest.raises(KeyboardInterrupt):  # the second document waits for A1 (written on a thread)
            load_documents(
                db, [("1.json", _products("Z1")), ("2.json", _products("A2", "A1"))], None, committed
            )
        assert time.monotonic() - started < 10  # not once this client lets A1 go
        assert [name for name, _ in committed] == ["1.json"]  # what `load` shows above the interrupt
        other.rollback()
    with db.reading() as session:
        assert sorted(session.scalars(select(Product.product_id))) == ["A1", "Z1"]


# The facility's id alone: nothing of it to write, so its row is not upserted, and the first wait
# on the lock is the foreign-key check of the rows COPY wrote (psycopg does not cancel a COPY).
BARE = {"facilityId": "FT", "products": [{"productId": "Y1", "productName": "Y"}]}


def test_an_interrupt_ends_the_first_document_waiting_on_the_facility_lock_at_once(db: Database) -> None:
    """The first document is written on the main thread: Ctrl-C there while it waits on another
    client's lock on its facility row cancels the statement, rather than have the rollback wait
    for it (20.7 s in an outside tester's run, as long as the lock was held)."""
    load_documents(db, [("0.json", _products("A1"))])
    locked, release = Event(), Event()

    def hold_the_facility() -> None:
        with db.engine.connect() as other:
            other.execute(text("SELECT facility_id FROM facility FOR UPDATE"))
            locked.set()
            release.wait(timeout=30)  # the code before: the load waited all of this
            other.rollback()

    holder = Thread(target=hold_the_facility, daemon=True)
    holder.start()
    assert locked.wait(timeout=10)
    main = threading.main_thread().ident
    assert main is not None
    threading.Timer(1.5, signal.pthread_kill, (main, signal.SIGINT)).start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            load_documents(db, [("1.json", BARE), ("2.json", _products("Z1"))])
        assert time.monotonic() - started < 10
    finally:
        release.set()
        holder.join(timeout=30)
    with db.reading() as session:
        assert sorted(session.scalars(select(Product.product_id))) == ["A1"]
