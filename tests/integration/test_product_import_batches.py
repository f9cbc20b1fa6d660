"""A facility document's products are loaded a batch at a time (catalog/import_products.py): the
rows, the answer and the refusals are those of a product-by-product load."""

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select

from stockledger.catalog import import_products
from stockledger.catalog.cli import load_documents
from stockledger.catalog.load_progress import load_progress
from stockledger.core.db import Database
from stockledger.core.errors import ValidationFailed
from stockledger.ledger.models import Product, ProductFacility, ProductFacilityLocation
from tests.scope_support import bearer

LOCATIONS = [{"locationSeqId": "L1"}, {"locationSeqId": "L2"}]


def _rows(db: Database) -> list[list[tuple[Any, ...]]]:
    """Every product, ProductFacility and ProductFacilityLocation row, in key order."""
    p, pf, pfl = Product, ProductFacility, ProductFacilityLocation
    with db.reading() as session:
        return [
            [
                tuple(r)
                for r in session.execute(
                    select(p.product_id, p.product_type_id, p.product_name, p.description).order_by(
                        p.product_id
                    )
                )
            ],
            [
                tuple(r)
                for r in session.execute(
                    select(
                        pf.facility_id, pf.product_id, pf.minimum_stock, pf.reorder_quantity, pf.days_to_ship
                    ).order_by(pf.facility_id, pf.product_id)
                )
            ],
            [
                tuple(r)
                for r in session.execute(
                    select(
                        pfl.facility_id,
                        pfl.product_id,
                        pfl.location_seq_id,
                        pfl.minimum_stock,
                        pfl.move_quantity,
                    ).order_by(pfl.facility_id, pfl.product_id, pfl.location_seq_id)
                )
            ],
        ]


def _facility(products: list[dict[str, Any]]) -> dict[str, Any]:
    return {"facilityId": "BATCHED", "facilityLocations": LOCATIONS, "products": products}


def _import(client: TestClient, document: Any, status: int = 200, **headers: str) -> dict[str, Any]:
    answer = client.post("/v1/import", json=document, headers=headers)
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


TWICE = [
    {
        "productId": "P1",
        "productName": "First",
        "productTypeId": "FINISHED_GOOD",
        "productFacility": {"minimumStock": 5, "reorderQuantity": 9},
        "productFacilityLocations": [{"locationSeqId": "L1", "minimumStock": 1, "moveQuantity": 2}],
    },
    {"productId": "P2", "productName": "Other"},
    {
        "productId": "P1",
        "productName": "Second",
        "description": "named again",
        "productFacility": {"minimumStock": 7},
        "productFacilityLocations": [{"locationSeqId": "L1", "moveQuantity": 3}, {"locationSeqId": "L2"}],
    },
]


def test_a_product_named_twice_in_a_document_leaves_what_two_documents_in_turn_leave(
    client: TestClient, db: Database
) -> None:
    """One batch holds both: a key is upserted once, with the fields of both (the later wins);
    the counts are of the rows written, P1 counted once."""
    body = _import(client, _facility(TWICE))
    assert body["counts"] == {
        "facilities": 1,
        "facilityLocations": 2,
        "products": 2,
        "productFacilities": 2,
        "productFacilityLocations": 2,
    }
    assert _rows(db) == [
        [("P1", "FINISHED_GOOD", "Second", "named again"), ("P2", None, "Other", None)],
        [("BATCHED", "P1", 7, 9, None), ("BATCHED", "P2", None, None, None)],
        [("BATCHED", "P1", "L1", 1, 3), ("BATCHED", "P1", "L2", None, None)],
    ]
    together = _rows(db)
    for product in TWICE:  # now each on its own, in turn: nothing changes
        _import(client, _facility([product]))
    assert _rows(db) == together


def test_products_without_locations_count_none(client: TestClient) -> None:
    body = _import(client, {"facilityId": "BATCHED", "products": [{"productId": "P1"}, {"productId": "P2"}]})
    assert body["counts"] == {"facilities": 1, "products": 2, "productFacilities": 2}
    assert _import(client, {"productId": "P3", "productName": "Alone"})["counts"] == {"products": 1}


def test_a_refusal_in_a_later_batch_leaves_nothing_of_the_earlier_ones(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_products, "BATCH", 2)
    products: list[dict[str, Any]] = [
        {"productId": f"P{n}", "productFacilityLocations": [{"locationSeqId": "L1"}]} for n in range(5)
    ]
    products[4]["productFacilityLocations"] = [{"locationSeqId": "NOWHERE"}]
    refused = _import(client, _facility(products), 422)
    assert (refused["code"], refused["locationSeqId"]) == ("validation_failed", "NOWHERE")
    assert _rows(db) == [[], [], []]
    products.pop()
    assert _import(client, _facility(products))["counts"]["products"] == 4
    assert [r[0] for r in _rows(db)[0]] == ["P0", "P1", "P2", "P3"]


@pytest.mark.parametrize("unknown_first", [True, False])
def test_the_first_refusal_in_document_order_is_the_answer(
    client: TestClient, db: Database, unknown_first: bool
) -> None:
    """A scoped token: a product it may not change, and a location the facility lacks; whichever
    the document names first is refused, as a product-by-product load would."""
    _import(client, _facility([{"productId": "P1", "productName": "As is"}]))
    before = _rows(db)
    scoped = bearer(db, "admin", ["BATCHED"])
    unknown = {
        "productId": "P1",
        "productName": "As is",
        "productFacilityLocations": [{"locationSeqId": "NO"}],
    }
    changed = {"productId": "P1", "productName": "Renamed"}
    products = [unknown, changed] if unknown_first else [changed, unknown]
    expected = (422, "validation_failed") if unknown_first else (403, "forbidden")
    refused = _import(client, _facility(products), expected[0], **scoped)
    assert refused["code"] == expected[1]
    assert _rows(db) == before


def test_a_batch_of_ticks_moves_the_bar_and_never_past_the_document() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with load_progress(console, 10, "loading") as tracker:
        tracker.start("a", 7)
        tracker.tick(5)
        assert tracker.completed == 5
        tracker.tick(5)  # more than the document has left
        assert tracker.completed == 7
        tracker.finish()
        tracker.start("b", 3)
        tracker.tick()
        assert tracker.completed == 8


def test_a_later_invalid_document_refuses_the_run_before_anything_is_written(db: Database) -> None:
    """load_documents validates every document before it writes any: an invalid one is named in
    the refusal, and the documents before it are not written either."""
    good = _facility([{"productId": "P1"}])
    bad = {"facilityId": "BATCHED", "products": [{"productId": "has a blank"}]}
    after = {"productId": "P9"}
    with pytest.raises(ValidationFailed) as refused:
        load_documents(db, [("good", good), ("bad", bad), ("after", after)])
    assert refused.value.detail.startswith("bad: The document does not match its schema (nothing written)")
    assert refused.value.extra["errors"][0]["loc"] == ["products", 0, "productId"]
    assert _rows(db)[0] == []
