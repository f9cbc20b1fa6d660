"""`stockledger load` writes its first document while it validates the others (catalog/cli.py
`load_documents`): the server's work and this process's overlap, and still nothing is committed
before every document is valid, and a later document's refusal is the answer it always was."""

import sys
from threading import Event
from typing import Any

import pytest
from sqlalchemy import func, select

from stockledger.catalog import cli as catalog_cli
from stockledger.catalog.cli import load_documents
from stockledger.core.db import Database
from stockledger.core.errors import ValidationFailed
from stockledger.core.thread_switch import OVERLAP_SWITCH_SECONDS
from stockledger.ledger.models import Facility, Product

FIRST = {
    "facilityId": "F1",
    "facilityLocations": [{"locationSeqId": "L1"}],
    "products": [{"productId": "P1"}],
}
SECOND = {"facilityId": "F2", "products": [{"productId": "P2"}]}
INVALID = {"facilityId": "F3", "products": [{"productId": "has a blank"}]}


def _count(db: Database, column: Any) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count(column))) or 0)


def test_the_later_documents_are_validated_while_the_first_is_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing = Event()
    overlapped: list[bool] = []
    parse, load = catalog_cli.parse_document, catalog_cli.load_parsed

    def parse_once_the_first_is_written(document: Any) -> Any:
        if document is SECOND:
            overlapped.append(writing.wait(timeout=5))  # validated before any write: never set
        return parse(document)

    def load_noting(*args: Any) -> Any:
        writing.set()
        return load(*args)

    monkeypatch.setattr(catalog_cli, "parse_document", parse_once_the_first_is_written)
    monkeypatch.setattr(catalog_cli, "load_parsed", load_noting)
    outcomes = load_documents(db, [("first.json", FIRST), ("second.json", SECOND)])
    assert [name for name, _ in outcomes] == ["first.json", "second.json"]
    assert overlapped == [True]
    assert _count(db, Product.product_id) == 2


def test_a_later_invalid_document_rolls_the_first_back(db: Database) -> None:
    with pytest.raises(ValidationFailed) as refused:
        load_documents(db, [("first.json", FIRST), ("second.json", SECOND), ("third.json", INVALID)])
    assert refused.value.detail.startswith(
        "third.json: The document does not match its schema (nothing written)"
    )
    assert (_count(db, Facility.facility_id), _count(db, Product.product_id)) == (0, 0)


def test_a_later_invalid_document_is_the_answer_when_the_first_is_refused_too(db: Database) -> None:
    """The first document names a location its facility lacks (refused while writing); the
    second does not match its schema: the schema's refusal, as when every document was validated
    before any was written."""
    unknown = {
        **FIRST,
        "facilityLocations": [],
        "products": [{"productId": "P1", "productFacilityLocations": [{"locationSeqId": "NO"}]}],
    }
    with pytest.raises(ValidationFailed) as refused:
        load_documents(db, [("first.json", unknown), ("second.json", INVALID)])
    assert refused.value.detail.startswith("second.json: ")
    assert refused.value.extra["errors"][0]["loc"] == ["products", 0, "productId"]
    assert _count(db, Facility.facility_id) == 0


def test_threads_switch_quickly_while_the_load_runs(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The validating thread and the writes run with core.thread_switch's short interval; the
    process has its own back afterwards, also after a refusal."""
    before = sys.getswitchinterval()
    seen: list[float] = []
    parse = catalog_cli.parse_document

    def parse_noting(document: Any) -> Any:
        seen.append(sys.getswitchinterval())
        return parse(document)

    monkeypatch.setattr(catalog_cli, "parse_document", parse_noting)
    load_documents(db, [("first.json", FIRST), ("second.json", SECOND)])
    assert seen == [OVERLAP_SWITCH_SECONDS, OVERLAP_SWITCH_SECONDS]
    assert sys.getswitchinterval() == before
    with pytest.raises(ValidationFailed):
        load_documents(db, [("first.json", FIRST), ("third.json", INVALID)])
    assert sys.getswitchinterval() == before
