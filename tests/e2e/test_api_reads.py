"""The read endpoints over HTTP on the seed data."""

from fastapi.testclient import TestClient


def test_healthz_and_openapi_are_served(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/availability" in paths
    assert "/v1/import" in paths
    assert client.get("/docs").status_code == 200


def test_facility_comes_with_its_locations(seeded_client: TestClient) -> None:
    body = seeded_client.get("/v1/facilities/FACILITY_1").json()
    assert body["facilityName"] == "Main Street Store"
    assert body["costingMethodId"] == "FIFO"
    assert [loc["locationSeqId"] for loc in body["facilityLocations"]] == [f"{n:04d}" for n in range(1, 11)]
    assert body["facilityLocations"][4] == {
        "locationSeqId": "0005",
        "locationTypeEnumId": "FLT_PICKLOC",
        "areaId": "B",
        "aisleId": "01",
        "sectionId": "01",
    }


def test_product_comes_with_its_facilities(seeded_client: TestClient) -> None:
    body = seeded_client.get("/v1/products/FG002").json()
    assert body["productName"] == "Product 2"
    assert body["productFacilities"] == [
        {
            "facilityId": "FACILITY_1",
            "minimumStock": 15,
            "reorderQuantity": 60,
            "daysToShip": 2,
            "inventoryItemId": "FG002-INV-001",
            "productFacilityLocations": [
                {"locationSeqId": "0003", "minimumStock": 8, "moveQuantity": 15},
                {"locationSeqId": "0007", "minimumStock": 7, "moveQuantity": 15},
            ],
        }
    ]


def test_inventory_item_has_its_totals(seeded_client: TestClient) -> None:
    body = seeded_client.get("/v1/inventory-items/FG003-INV-002").json()
    assert body["quantityOnHandTotal"] == 27
    assert body["availableToPromiseTotal"] == 27
    assert body["accountingQuantityTotal"] == 27
    assert body["unitCost"] == 8.75
    assert body["locationSeqId"] == "0006"


def test_details_paginate_oldest_first(seeded_client: TestClient) -> None:
    for _ in range(3):
        assert (
            seeded_client.post(
                "/v1/import",
                json=[
                    {
                        "inventoryItemId": "FG003-INV-001",
                        "productId": "FG003",
                        "facilityId": "FACILITY_1",
                        "inventoryItemDetails": [
                            {
                                "inventoryItemDetailSeqId": f"{n:04d}",
                                "quantityOnHandDiff": 1,
                                "availableToPromiseDiff": 1,
                                "reasonEnumId": "INV_RECEIPT",
                            }
                            for n in range(2, 6)
                        ],
                    }
                ],
            ).status_code
            == 200
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = seeded_client.get("/v1/inventory-items/FG003-INV-001/details", params=params).json()
        seen += [row["inventoryItemDetailSeqId"] for row in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["0001", "0002", "0003", "0004", "0005"]
    item = seeded_client.get("/v1/inventory-items/FG003-INV-001").json()
    assert item["quantityOnHandTotal"] == 35 + 4


def test_product_facility_inventory_view(seeded_client: TestClient) -> None:
    body = seeded_client.get("/v1/product-facility-inventory", params={"facilityId": "FACILITY_1"}).json()
    rows = {r["productId"]: r for r in body["items"]}
    assert set(rows) == {"FG001", "FG002", "FG003"}
    assert rows["FG002"] == {
        "facilityId": "FACILITY_1",
        "productId": "FG002",
        "inventoryItemId": "FG002-INV-001",
        "minimumStock": 15,
        "quantityOnHandTotal": 31,
        "availableToPromiseTotal": 31,
        "computedInventoryCount": 16,
        "notPromisable": {"onHold": 0, "returned": 0, "defective": 0, "expired": 0, "other": 0},
    }
    first = seeded_client.get("/v1/product-facility-inventory", params={"limit": 2}).json()
    rest = seeded_client.get("/v1/product-facility-inventory", params={"cursor": first["next"]}).json()
    assert [r["productId"] for r in first["items"] + rest["items"]] == ["FG001", "FG002", "FG003"]


def test_computed_inventory_count_may_be_negative(seeded_client: TestClient) -> None:
    doc = {
        "facilityId": "FACILITY_1",
        "products": [{"productId": "FG003", "productFacility": {"minimumStock": 100}}],
    }
    assert seeded_client.post("/v1/import", json=doc).status_code == 200
    got = seeded_client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": "FG003"})
    assert got.json()["computedInventoryCount"] == 62 - 100


def test_availability_as_of_replays_the_ledger(seeded_client: TestClient) -> None:
    def at(when: str, product: str = "FG001") -> int:
        params = {"facilityId": "FACILITY_1", "productId": product, "asOf": when}
        return int(seeded_client.get("/v1/availability", params=params).json()["quantityOnHandTotal"])

    assert at("2024-07-10T00:00:00Z") == 0
    assert at("2024-07-11T00:00:00Z") == 12  # FG001-INV-001 received on the 10th
    assert at("2024-07-14T00:00:00Z") == 30  # FG001-INV-002 on the 12th
    assert at("2024-07-15T10:00:00Z") == 31  # PI_20240715 found one
