"""Reads of a facility's stock and catalogue over HTTP on both databases: its inventory items, its
products, a product's locations, a physical inventory, variance reasons, a reset run's failed
lines; scoped tokens see their facilities' rows only, unknown ids are 404, bad parameters 422."""

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.core.pagination import encode_cursor
from stockledger.resets.failures import STORED_FAILURES
from tests.e2e.test_shipping_api import problem
from tests.paging_support import all_pages
from tests.scope_support import bearer, second_facility

FAC = "FACILITY_1"


def test_a_facilitys_items_with_lots_locations_and_totals(seeded_client: TestClient) -> None:
    line = {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 5, "lotId": "L-1"}
    lot = line | {"expireDate": "2030-01-01T00:00:00Z", "locationSeqId": "0004"}
    assert (
        seeded_client.post(
            "/v1/receipts", json={"shipmentId": "P", "facilityId": FAC, "items": [lot]}
        ).status_code
        == 201
    )
    rows = all_pages(seeded_client, "/v1/inventory-items", limit=2, facilityId=FAC)
    assert [r["inventoryItemId"] for r in rows] == sorted(r["inventoryItemId"] for r in rows)
    assert len(rows) == 7
    assert {r["facilityId"] for r in rows} == {FAC}
    by_product = all_pages(seeded_client, "/v1/inventory-items", limit=100, facilityId=FAC, productId="FG002")
    assert len(by_product) == 3
    [received] = [r for r in by_product if r["lotId"] == "L-1"]
    assert received["expireDate"].startswith("2030-01-01T00:00:00")
    assert (received["statusId"], received["quantityOnHandTotal"], received["availableToPromiseTotal"]) == (
        "INV_AVAILABLE",
        5,
        5,
    )
    where = (received["locationSeqId"], received["areaId"], received["aisleId"], received["sectionId"])
    assert where == ("0004", "A", "02", "02")
    seeded_item = seeded_client.get("/v1/inventory-items/FG002-INV-001").json()
    [listed] = [r for r in by_product if r["inventoryItemId"] == "FG002-INV-001"]
    assert {k: listed[k] for k in seeded_item} == seeded_item
    assert (listed["locationSeqId"], listed["areaId"], listed["aisleId"]) == ("0003", "A", "02")


def test_items_of_another_facility_unknown_ids_and_bad_parameters(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    scoped = bearer(seeded, "viewer", ["FACILITY_2"])
    mine = seeded_client.get("/v1/inventory-items", params={"facilityId": "FACILITY_2"}, headers=scoped)
    assert {r["productId"] for r in mine.json()["items"]} == {"FG001", "FG002"}
    other = seeded_client.get("/v1/inventory-items", params={"facilityId": FAC}, headers=scoped)
    problem(other, 403, "forbidden")
    assert "FG00" not in other.text
    problem(seeded_client.get("/v1/inventory-items?facilityId=NO_SUCH"), 404, "not_found")
    problem(seeded_client.get(f"/v1/inventory-items?facilityId={FAC}&productId=NO_SUCH"), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/inventory-items",
        "/v1/inventory-items?facilityId=",
        f"/v1/inventory-items?facilityId={FAC}&limit=0",
        f"/v1/inventory-items?facilityId={FAC}&cursor={encode_cursor([1])}",
        f"/v1/facilities/{FAC}/products?limit=1001",
        f"/v1/facilities/{FAC}/products?cursor=bm90LWEtY3Vyc29y",
        "/v1/variance-reasons?limit=0",
        f"/v1/variance-reasons?cursor={encode_cursor([1])}",
        f"/v1/physical-inventories/PI_20240715?facilityId={'F' * 61}",
    ],
)
def test_bad_query_parameters_are_a_422(seeded_client: TestClient, path: str) -> None:
    problem(seeded_client.get(path), 422, "validation_failed")


def test_a_facilitys_products_page_by_product(seeded_client: TestClient, seeded: Database) -> None:
    rows = all_pages(seeded_client, f"/v1/facilities/{FAC}/products", limit=2)
    assert [r["productId"] for r in rows] == ["FG001", "FG002", "FG003"]
    assert rows[1] == {
        "productId": "FG002",
        "productName": "Product 2",
        "productTypeId": rows[1]["productTypeId"],
        "minimumStock": 15,
        "reorderQuantity": 60,
        "daysToShip": 2,
        "inventoryItemId": "FG002-INV-001",
    }
    second_facility(seeded)
    problem(
        seeded_client.get(f"/v1/facilities/{FAC}/products", headers=bearer(seeded, "viewer", ["FACILITY_2"])),
        403,
        "forbidden",
    )
    problem(seeded_client.get("/v1/facilities/NO_SUCH/products"), 404, "not_found")


def test_a_product_comes_with_its_locations_in_the_tokens_facilities(
    seeded_client: TestClient, seeded: Database
) -> None:
    [link] = seeded_client.get("/v1/products/FG001").json()["productFacilities"]
    assert link["productFacilityLocations"] == [
        {"locationSeqId": "0001", "minimumStock": 5, "moveQuantity": 10},
        {"locationSeqId": "0005", "minimumStock": 5, "moveQuantity": 10},
    ]
    second_facility(seeded)
    elsewhere = seeded_client.get(
        "/v1/products/FG001", headers=bearer(seeded, "viewer", ["FACILITY_2"])
    ).json()
    assert [pf["facilityId"] for pf in elsewhere["productFacilities"]] == ["FACILITY_2"]
    assert elsewhere["productFacilities"][0]["productFacilityLocations"] == []


def test_a_physical_inventory_with_its_variances(seeded_client: TestClient, seeded: Database) -> None:
    count = {
        "physicalInventoryId": "PI-9",
        "facilityId": FAC,
        "counts": [{"productId": "FG003", "quantityCounted": 60, "varianceReasonId": "VAR_LOST"}],
    }
    assert seeded_client.post("/v1/physical-inventories", json=count).status_code == 200
    body = seeded_client.get("/v1/physical-inventories/PI-9").json()
    assert (body["physicalInventoryId"], body["facilityId"]) == ("PI-9", FAC)
    variances = body["inventoryItemVariances"]
    assert sum(v["quantityOnHandVar"] for v in variances) == 60 - 62
    assert {(v["productId"], v["varianceReasonId"]) for v in variances} == {("FG003", "VAR_LOST")}
    seed = seeded_client.get("/v1/physical-inventories/PI_20240715").json()
    assert [
        (v["inventoryItemId"], v["quantityOnHandVar"], v["comments"]) for v in seed["inventoryItemVariances"]
    ] == [
        ("FG001-INV-001", 1, "Found one extra unit on shelf"),
        ("FG002-INV-002", -2, "Two units damaged during shipping"),
    ]
    second_facility(seeded)
    hidden = seeded_client.get(
        "/v1/physical-inventories/PI-9", headers=bearer(seeded, "viewer", ["FACILITY_2"])
    )
    problem(hidden, 404, "not_found")
    problem(seeded_client.get("/v1/physical-inventories/NO_SUCH"), 404, "not_found")


def test_a_count_id_used_in_two_facilities_needs_a_facility(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    for facility, product in ((FAC, "FG001"), ("FACILITY_2", "FG002")):
        count = {
            "physicalInventoryId": "PI-X",
            "facilityId": facility,
            "counts": [{"productId": product, "quantityCounted": 1}],
        }
        assert seeded_client.post("/v1/physical-inventories", json=count).status_code == 200
    both = problem(seeded_client.get("/v1/physical-inventories/PI-X"), 422, "validation_failed")
    assert both["facilityIds"] == [FAC, "FACILITY_2"]
    named = seeded_client.get("/v1/physical-inventories/PI-X", params={"facilityId": "FACILITY_2"}).json()
    assert [v["productId"] for v in named["inventoryItemVariances"]] == ["FG002"]
    scoped = seeded_client.get(
        "/v1/physical-inventories/PI-X", headers=bearer(seeded, "viewer", ["FACILITY_2"])
    )
    assert scoped.json()["facilityId"] == "FACILITY_2"


def test_variance_reasons_page_by_id(seeded_client: TestClient, seeded: Database) -> None:
    reasons = all_pages(seeded_client, "/v1/variance-reasons", limit=1)
    assert {"varianceReasonId": "VAR_LOST", "description": "Lost"} in reasons
    assert [r["varianceReasonId"] for r in reasons] == sorted(r["varianceReasonId"] for r in reasons)
    scoped = seeded_client.get(
        "/v1/variance-reasons?limit=1000", headers=bearer(seeded, "viewer", ["FACILITY_1"])
    )
    assert scoped.json()["items"] == reasons


def test_a_reset_runs_failed_lines_are_stored_with_it(seeded_client: TestClient) -> None:
    good = {"facilityId": FAC, "productId": "FG001", "quantityOnHand": 7}
    unknown = {"facilityId": FAC, "productId": "NO_SUCH", "quantityOnHand": 1}
    lines = [good, unknown] + [{"facilityId": FAC}] * (STORED_FAILURES + 200)
    run = seeded_client.post("/v1/external-inventory-resets", json={"lines": lines}).json()
    path = f"/v1/external-inventory-resets/{run['inventoryResetId']}/failures"
    stored = all_pages(seeded_client, path, limit=300)
    assert [f["line"] for f in stored] == list(range(2, STORED_FAILURES + 2))
    assert stored[0] == {
        "line": 2,
        "code": "unknown_product",
        "message": "Product NO_SUCH not found",
        "facilityId": FAC,
        "productId": "NO_SUCH",
    }
    assert stored[1]["code"] == "invalid_line"
    assert (stored[1]["facilityId"], stored[1]["productId"]) == (FAC, None)  # what the line gave
    assert seeded_client.get(path).json()["linesFailed"] == STORED_FAILURES + 201
    clean = seeded_client.post("/v1/external-inventory-resets", json={"lines": [good]}).json()
    none = seeded_client.get(f"/v1/external-inventory-resets/{clean['inventoryResetId']}/failures").json()
    assert (none["items"], none["linesFailed"], none["next"]) == ([], 0, None)


def test_failed_lines_of_a_run_are_as_private_as_the_run(seeded_client: TestClient, seeded: Database) -> None:
    second_facility(seeded)
    lines = [
        {"facilityId": FAC, "productId": "NO_SUCH", "quantityOnHand": 1},
        {"facilityId": FAC, "productId": "FG001", "quantityOnHand": 3},
    ]
    run = seeded_client.post("/v1/external-inventory-resets", json={"lines": lines}).json()
    path = f"/v1/external-inventory-resets/{run['inventoryResetId']}/failures"
    own = seeded_client.get(path, headers=bearer(seeded, "viewer", [FAC]))
    assert [f["productId"] for f in own.json()["items"]] == ["NO_SUCH"]
    other = seeded_client.get(path, headers=bearer(seeded, "viewer", ["FACILITY_2"]))
    problem(other, 403, "forbidden")
    assert "NO_SUCH" not in other.text
    problem(seeded_client.get("/v1/external-inventory-resets/NO_SUCH/failures"), 404, "not_found")
    problem(seeded_client.get(f"{path}?cursor={encode_cursor(['x'])}"), 422, "validation_failed")


def test_a_run_whose_failed_lines_name_another_facility_is_for_unscoped_tokens_only(
    seeded_client: TestClient, seeded: Database
) -> None:
    """Found by an outside tester: the run was recorded as FACILITY_1's (its only changed line),
    so a FACILITY_1 token read FACILITY_2's failed lines and learnt which facilities exist."""
    second_facility(seeded)
    lines = [
        {"facilityId": FAC, "productId": "FG003", "quantityOnHand": 61},
        {"facilityId": "FACILITY_2", "productId": "FG001", "quantityOnHand": -5},
        {"facilityId": "NO_SUCH_FAC", "productId": "FG001", "quantityOnHand": 5},
    ]
    run = seeded_client.post("/v1/external-inventory-resets", json={"lines": lines}).json()
    assert run["linesFailed"] == 2
    path = f"/v1/external-inventory-resets/{run['inventoryResetId']}"
    for facility in (FAC, "FACILITY_2"):
        viewer = bearer(seeded, "viewer", [facility])
        problem(seeded_client.get(path, headers=viewer), 403, "forbidden")
        refused = seeded_client.get(f"{path}/failures", headers=viewer)
        problem(refused, 403, "forbidden")
        assert "NO_SUCH_FAC" not in refused.text
    whole = seeded_client.get(f"{path}/failures").json()
    assert [f["facilityId"] for f in whole["items"]] == ["FACILITY_2", "NO_SUCH_FAC"]
