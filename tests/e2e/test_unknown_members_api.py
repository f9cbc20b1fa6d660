"""Unknown members (issue 20, M3): the contract declares every body `additionalProperties: false`,
the seed documents and resets included, and the service refuses a member it does not read with a
422 naming it, nothing applied (it dropped them without a word, a facility's variances too)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.ledger.models import ExternalInventoryReset
from tests.e2e.test_shipping_api import problem
from tests.seeds import seed_json_documents

RESETS = "/v1/external-inventory-resets"


def _extra(body: dict[str, Any]) -> list[Any]:
    assert body["errors"], body
    assert {e["type"] for e in body["errors"]} == {"extra_forbidden"}, body
    return [e["loc"] for e in body["errors"]]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        (
            {
                "facilityId": "X",
                "facilityName": "Main",
                "inventoryItemVariances": [{"physicalInventoryId": "PI"}],
            },
            [["inventoryItemVariances"]],
        ),
        ({"facilityId": "X", "bogusField": 1}, [["bogusField"]]),
        (
            {"facilityId": "X", "facilityLocations": [{"locationSeqId": "L1", "zone": "A"}]},
            [["facilityLocations", 0, "zone"]],
        ),
        ({"productId": "NEW_P", "weight": 3}, [["weight"]]),
    ],
)
def test_an_import_document_with_a_member_it_does_not_read_is_refused(
    client: TestClient, document: dict[str, Any], named: list[Any]
) -> None:
    assert _extra(problem(client.post("/v1/import", json=document), 422, "validation_failed")) == named
    problem(client.get("/v1/facilities/X"), 404, "not_found")  # nothing applied
    problem(client.get("/v1/products/NEW_P"), 404, "not_found")


def test_stock_documents_with_unknown_members_write_no_ledger_row(seeded_client: TestClient) -> None:
    before = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()["items"]
    item = {
        "inventoryItemId": "FG001-INV-001",
        "productId": "FG001",
        "facilityId": "FACILITY_1",
        "inventoryItemDetails": [{"inventoryItemDetailSeqId": "0900", "quantityOnHandDiff": 1, "qty": 1}],
    }
    refused = problem(seeded_client.post("/v1/import", json=[item]), 422, "validation_failed")
    assert _extra(refused) == [[0, "inventoryItemDetails", 0, "qty"]]
    count = {
        "physicalInventoryId": "PI_X",
        "inventoryItemVariances": [
            {
                "inventoryItemId": "FG001-INV-001",
                "quantityOnHandVar": -1,
                "varianceReasonId": "VAR_LOST",
                "why": 1,
            }
        ],
    }
    for path in ("/v1/import", "/v1/physical-inventories"):
        refused = problem(seeded_client.post(path, json=count), 422, "validation_failed")
        assert _extra(refused) == [["inventoryItemVariances", 0, "why"]], path
    assert seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()["items"] == before


def test_every_seed_document_loads_as_it_stands(client: TestClient) -> None:
    """The seeds' sample JSON (001, 002) carries no member the service does not read."""
    for name, document in seed_json_documents():
        assert client.post("/v1/import", json=document).status_code == 200, name


def _runs(db: Database) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(ExternalInventoryReset)) or 0


def test_a_reset_with_an_unknown_member_is_refused_and_writes_no_run(
    seeded_client: TestClient, seeded: Database
) -> None:
    refused = problem(seeded_client.post(RESETS, json={"lines": [], "zzz": 1}), 422, "validation_failed")
    assert _extra(refused) == [["body", "zzz"]]
    assert refused["detail"] == "body.zzz: not a member of a reset"
    misspelt = {
        "source": "ERP",
        "lines": [
            {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 40},
            {"facilityId": "FACILITY_1", "productId": "FG002", "quantityOnHnad": 5, "lotId": "L"},
        ],
    }
    refused = problem(seeded_client.post(RESETS, json=misspelt), 422, "validation_failed")
    assert _extra(refused) == [["body", "lines", 1, "quantityOnHnad"], ["body", "lines", 1, "lotId"]]
    assert refused["errorCount"] == 2
    assert _runs(seeded) == 0
    answer = seeded_client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": "FG001"})
    assert answer.json()["quantityOnHandTotal"] != 40  # the good line was not applied either
    fine = {
        "source": "ERP",
        "lines": [{"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 40}],
    }
    assert seeded_client.post(RESETS, json=fine).status_code == 200
    assert _runs(seeded) == 1


def test_the_contract_declares_the_documents_closed(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    documents = [n for n, s in schemas.items() if n.endswith("Document") and "properties" in s]
    assert {"FacilityDocument", "LocationDocument", "ResetDocument"} <= set(documents)
    for name in documents:
        assert schemas[name].get("additionalProperties") is False, name


def test_the_ofbiz_audit_stamps_an_export_carries_are_accepted_and_not_stored(client: TestClient) -> None:
    """An OFBiz entity export writes lastUpdatedStamp & co. on every record: a document as it
    comes out of OFBiz loads; the stamps are not stored, another member is still refused."""
    stamps = {
        "lastUpdatedStamp": "2024-07-13 10:00:00.123",
        "lastUpdatedTxStamp": "2024-07-13 10:00:00.1",
        "createdStamp": "2024-07-01 09:00:00.0",
        "createdTxStamp": "2024-07-01 09:00:00.0",
    }
    document = {
        "facilityId": "OFBIZ_F",
        "facilityName": "Exported",
        "facilityLocations": [{"locationSeqId": "L1", **stamps}],
        **stamps,
    }
    loaded = client.post("/v1/import", json=document)
    assert loaded.status_code == 200, loaded.text
    facility = client.get("/v1/facilities/OFBIZ_F")
    assert facility.status_code == 200
    assert not set(stamps) & set(facility.json())
    stamped_wrong = {"facilityId": "OFBIZ_G", "lastUpdatedStamp": 5}
    refused = problem(client.post("/v1/import", json=stamped_wrong), 422, "validation_failed")
    assert "lastUpdatedStamp" in refused["detail"] or refused["errors"], refused
    problem(client.get("/v1/facilities/OFBIZ_G"), 404, "not_found")


def test_the_contract_declares_the_stamps_on_every_seed_document(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    seed_documents = {
        "FacilityDocument", "LocationDocument", "ProductDocument", "ProductFacilityDocument",
        "ProductFacilityLocationDocument", "InventoryItemDocument", "DetailDocument",
        "PhysicalInventoryDocument", "VarianceDocument",
    }  # fmt: skip
    stamped = {name for name, schema in schemas.items() if "lastUpdatedStamp" in schema.get("properties", {})}
    assert stamped == seed_documents  # the API's own bodies (ReceiptDocument, ResetDocument…) take none
    for name in seed_documents:
        assert schemas[name]["additionalProperties"] is False, name
