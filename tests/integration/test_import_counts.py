"""POST /v1/import and `stockledger load` report the rows they wrote (an outside tester: a product
sent twice, or a row that changed nothing, was counted as imported): per kind of record,
`created`, `updated` (a field the document gives held another value) and `unchanged` (there as
given: not written), `counts` the rows written; a reload of the seed documents writes nothing and
says so. Both databases; on PostgreSQL the products go by COPY straight into their table (all new)
or staged and upserted (some there), a batch at a time behind (core.bulk)."""

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stockledger.catalog import import_products
from stockledger.catalog.seeds import seed_documents
from stockledger.cli import app
from stockledger.core.db import Database
from tests.scope_support import bearer

F = "FACILITY_1"
FACILITY = {"facilityId": F, "facilityName": "Main Street Store"}  # as the seed names it
WHAT = ("counts", "created", "updated", "unchanged")


def _import(client: TestClient, document: Any, **headers: str) -> dict[str, Any]:
    answer = client.post("/v1/import", json=document, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return {what: body[what] for what in WHAT} | {"ledgerRowsWritten": body["ledgerRowsWritten"]}


def _kinds(**by_kind: tuple[int, int, int]) -> dict[str, Any]:
    """The answer's maps from (created, updated, unchanged) per kind."""
    created = {k: v[0] for k, v in by_kind.items()}
    updated = {k: v[1] for k, v in by_kind.items()}
    return {
        "counts": {k: created[k] + updated[k] for k in by_kind},
        "created": created,
        "updated": updated,
        "unchanged": {k: v[2] for k, v in by_kind.items()},
    }


@pytest.mark.parametrize("batch", [5_000, 2])
def test_an_import_reports_what_it_wrote(
    seeded_client: TestClient, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(import_products, "BATCH", batch)  # 2: several batches, sent behind
    products = [
        {"productId": "NEW1", "productName": "New", "productFacility": {"minimumStock": 2}},
        {"productId": "NEW1", "productName": "New"},  # sent twice: one row
        {"productId": "FG001"},  # there, nothing given to change
        {"productId": "NEW2", "productFacilityLocations": [{"locationSeqId": "0001"}]},
    ]
    if batch == 2:  # NEW1's two records three apart: batches of their own would count it twice
        products = [products[0], products[2], products[3], products[1]]
    document = {**FACILITY, "products": products}
    assert _import(seeded_client, document) == {
        **_kinds(
            facilities=(0, 0, 1),
            products=(2, 0, 1),
            productFacilities=(2, 0, 1),
            productFacilityLocations=(1, 0, 0),
        ),
        "ledgerRowsWritten": 0,
    }
    assert _import(seeded_client, document) == {
        **_kinds(
            facilities=(0, 0, 1),
            products=(0, 0, 3),
            productFacilities=(0, 0, 3),
            productFacilityLocations=(0, 0, 1),
        ),
        "ledgerRowsWritten": 0,
    }
    changed = [
        {"productId": "NEW1", "productName": "Renamed", "productFacility": {"minimumStock": 2}},
        {"productId": "NEW2", "productFacilityLocations": [{"locationSeqId": "0001", "minimumStock": 4}]},
    ]
    assert _import(seeded_client, {**FACILITY, "facilityName": "Renamed", "products": changed}) == {
        **_kinds(
            facilities=(0, 1, 0),
            products=(0, 1, 1),
            productFacilities=(0, 0, 2),
            productFacilityLocations=(0, 1, 0),
        ),
        "ledgerRowsWritten": 0,
    }
    assert seeded_client.get("/v1/products/NEW1").json()["productName"] == "Renamed"


def test_the_seed_documents_loaded_again_write_nothing(seeded_client: TestClient) -> None:
    documents = dict(seed_documents())
    answers = {name: _import(seeded_client, document) for name, document in documents.items()}
    for answer in answers.values():
        assert set(answer["counts"].values()) == {0}
        assert set(answer["created"].values()) == set(answer["updated"].values()) == {0}
        assert answer["ledgerRowsWritten"] == 0
    assert answers["01_facility_locations.json"]["unchanged"] == {
        "facilities": 1,
        "facilityLocations": 10,
        "products": 0,  # a facility's document names its products, none here
        "productFacilities": 0,
    }
    assert answers["03_inventory_items.json"]["unchanged"] == {"inventoryItems": 6, "inventoryItemDetails": 6}
    assert answers["04_physical_inventory.json"]["unchanged"] == {
        "physicalInventories": 1,
        "inventoryItemVariances": 2,
    }


def test_a_scoped_token_naming_products_as_they_are_writes_none(
    seeded_client: TestClient, seeded: Database
) -> None:
    """A scoped token may name a shared product only as it is: its products are unchanged."""
    products = [{"productId": "FG001", "productName": "Finished Good 1"}]
    current = seeded_client.get("/v1/products/FG001").json()
    products[0]["productName"] = current["productName"]
    answer = _import(seeded_client, {**FACILITY, "products": products}, **bearer(seeded, "admin", [F]))
    assert answer["created"]["products"] == answer["updated"]["products"] == 0
    assert answer["unchanged"]["products"] == 1


def test_load_reports_what_it_wrote(
    env: str, seeded: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stockledger load`'s table: the rows created, updated and unchanged, as the API answers."""
    from stockledger import cli

    monkeypatch.setattr(cli.console, "width", 200)
    path = tmp_path / "products.json"
    path.write_text(
        '{"facilityId": "FACILITY_1", "products": [{"productId": "FG001"}, {"productId": "NEW9"}]}'
    )
    result = CliRunner().invoke(app, ["load", str(path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "products.json" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == [
        "products.json",
        "facility",
        "productFacilities 1, products 1",
        "-",
        "facilities 1, productFacilities 1, products 1",
        "0",
    ]


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


TKPI = {
    "physicalInventoryId": "TKPI",
    "inventoryItemVariances": [
        {
            "inventoryItemId": "FG001-INV-001",
            "varianceReasonId": "VAR_FOUND",
            "quantityOnHandVar": 1,
            "availableToPromiseVar": 1,
        },
    ],
}


def test_an_undated_count_loaded_again_keeps_its_date_and_writes_nothing(seeded_client: TestClient) -> None:
    """An outside tester: the reload of a count sent without physicalInventoryDate answered
    `updated 1` and moved the count's date to the reload's time. The first load dates it."""
    first = _import(seeded_client, TKPI)
    assert first["created"] == {"physicalInventories": 1, "inventoryItemVariances": 1}
    dated = seeded_client.get("/v1/physical-inventories/TKPI").json()["physicalInventoryDate"]
    assert _import(seeded_client, TKPI) == {
        **_kinds(physicalInventories=(0, 0, 1), inventoryItemVariances=(0, 0, 1)),
        "ledgerRowsWritten": 0,
    }
    assert seeded_client.get("/v1/physical-inventories/TKPI").json()["physicalInventoryDate"] == dated
    redated = {**TKPI, "physicalInventoryDate": "2024-07-16 09:00:00"}  # a date given is the document's
    assert _import(seeded_client, redated)["updated"] == {
        "physicalInventories": 1,
        "inventoryItemVariances": 0,
    }


def _item(client: TestClient, item_id: str) -> tuple[Any, Any]:
    body = client.get(f"/v1/inventory-items/{item_id}").json()
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"]


def test_a_ledger_row_sent_again_with_other_values_is_refused(seeded_client: TestClient) -> None:
    """An outside tester: a detail re-sent under its inventoryItemDetailSeqId with another quantity
    answered `unchanged` and dropped the new values silently. The ledger is append-only: 409 naming
    the row and what differs, and nothing of the document written; identical stays `unchanged`."""
    detail = {
        "inventoryItemDetailSeqId": "0001",
        "effectiveDate": "2024-07-10 14:35:00.000",
        "quantityOnHandDiff": 12,
        "availableToPromiseDiff": 12,
        "reasonEnumId": "INV_RECEIPT",
    }
    item = {"inventoryItemId": "FG001-INV-001", "productId": "FG001", "facilityId": F}
    before = _item(seeded_client, "FG001-INV-001")
    new_row = {"inventoryItemDetailSeqId": "0900", "quantityOnHandDiff": 1, "availableToPromiseDiff": 1}
    changed = {**item, "inventoryItemDetails": [new_row, {**detail, "quantityOnHandDiff": 11}]}
    answer = seeded_client.post("/v1/import", json=[changed])
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (problem["inventoryItemId"], problem["inventoryItemDetailSeqId"]) == ("FG001-INV-001", "0001")
    assert problem["differs"] == {"quantityOnHandDiff": {"held": "12", "given": "11"}}
    assert _item(seeded_client, "FG001-INV-001") == before  # the new row 0900 not written either
    same = {**item, "inventoryItemDetails": [detail]}
    assert _import(seeded_client, [same])["unchanged"]["inventoryItemDetails"] == 1


def test_a_count_variance_sent_again_with_other_values_is_refused(seeded_client: TestClient) -> None:
    _import(seeded_client, TKPI)
    before = _item(seeded_client, "FG001-INV-001")
    (variance,) = TKPI["inventoryItemVariances"]
    changed = {
        **TKPI,
        "inventoryItemVariances": [{**variance, "quantityOnHandVar": 3, "availableToPromiseVar": 3}],
    }
    answer = seeded_client.post("/v1/import", json=changed)
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert (problem["inventoryItemId"], problem["physicalInventoryId"]) == ("FG001-INV-001", "TKPI")
    assert set(problem["differs"]) == {"quantityOnHandVar", "availableToPromiseVar"}
    assert _item(seeded_client, "FG001-INV-001") == before
    assert _import(seeded_client, TKPI)["unchanged"]["inventoryItemVariances"] == 1
