"""A token scoped to FACILITY_1 learns nothing of FACILITY_2's rows, and changes no shared catalogue
data: ERP reset lines of another facility are refused whatever their value, products are renamed
by unscoped admins only, reads by id show only its facilities, and another facility's shipment or
return id is a 403 that says nothing about the row."""

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stockledger.catalog.seeds import seed_documents
from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import ExternalInventoryReset, InventoryItem, InventoryItemDetail, Product
from tests.e2e.test_shipping_api import problem, shipment
from tests.scope_support import bearer, second_facility

CSV = {"content-type": "text/csv"}
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"


def _written(db: Database) -> tuple[int, int, int]:
    with db.reading() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (InventoryItemDetail, OutboxEvent, ExternalInventoryReset)
        )


def _reset(client: TestClient, headers: dict[str, str], csv: str) -> Any:
    return client.post("/v1/external-inventory-resets", content=HEADER + csv, headers={**headers, **CSV})


@pytest.mark.parametrize("other_line", ["FACILITY_2,FG001,7,", "FACILITY_2,FG001,8,", "FACILITY_9,FG001,7,"])
def test_a_scoped_reset_naming_another_facility_is_refused_whatever_the_line_holds(
    seeded_client: TestClient, seeded: Database, other_line: str
) -> None:
    """FACILITY_2 holds 7 of FG001: the same value as its QOH, another value, and a facility that
    does not exist all get the same 403, and the FACILITY_1 line is not applied either."""
    second_facility(seeded)
    before = _written(seeded)
    scoped = bearer(seeded, "admin", ["FACILITY_1"])
    refused = _reset(seeded_client, scoped, f"FACILITY_1,FG001,40,\n{other_line}\n")
    body = problem(refused, 403, "forbidden")
    facility = other_line.split(",")[0]
    assert body["detail"] == f"Line 3: this token may not act on facility {facility}"
    assert _written(seeded) == before


def test_a_scoped_reset_is_refused_whole_when_the_other_facility_comes_in_a_later_batch(
    seeded_client: TestClient, seeded: Database
) -> None:
    """5,000 lines a batch: the first batch has changed FG001 by the time line 5,002 is read."""
    second_facility(seeded)
    before = _written(seeded)
    scoped = bearer(seeded, "admin", ["FACILITY_1"])
    lines = "FACILITY_1,FG001,40,\n" * 5_000 + "FACILITY_2,FG001,7,\n"
    problem(_reset(seeded_client, scoped, lines), 403, "forbidden")
    assert _written(seeded) == before
    assert _reset(seeded_client, scoped, "FACILITY_1,FG001,40,\n").status_code == 200


def _facility_document(product_name: str) -> dict[str, Any]:
    document = copy.deepcopy(dict(seed_documents())["02_facility_products.json"])
    document["products"][0]["productName"] = product_name
    return document


def _product_name(db: Database, product_id: str) -> str | None:
    with db.reading() as session:
        product = session.get(Product, product_id)
        return product.product_name if product else None


def test_only_an_unscoped_admin_creates_or_changes_a_product(
    seeded_client: TestClient, seeded: Database
) -> None:
    scoped = bearer(seeded, "admin", ["FACILITY_1"])
    before = _written(seeded)
    as_is = seeded_client.post("/v1/import", json=_facility_document("Product 1"), headers=scoped)
    assert as_is.status_code == 200, as_is.text  # its facility's document, products as they are
    for document in (
        _facility_document("Renamed"),
        {"productId": "FG001", "productName": "Renamed"},
        {"productId": "NEWP", "productName": "New"},
    ):
        problem(seeded_client.post("/v1/import", json=document, headers=scoped), 403, "forbidden")
    assert (_product_name(seeded, "FG001"), _product_name(seeded, "NEWP")) == ("Product 1", None)
    assert _written(seeded) == before
    renamed = seeded_client.post("/v1/import", json={"productId": "FG001", "productName": "Renamed"})
    assert renamed.status_code == 200
    assert _product_name(seeded, "FG001") == "Renamed"


def test_a_product_shows_a_scoped_token_only_its_facilities(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    everywhere = seeded_client.get("/v1/products/FG001").json()
    assert [pf["facilityId"] for pf in everywhere["productFacilities"]] == ["FACILITY_1", "FACILITY_2"]
    for facilities in (["FACILITY_1"], ["FACILITY_2"]):
        read = seeded_client.get("/v1/products/FG001", headers=bearer(seeded, "viewer", facilities))
        assert read.status_code == 200
        shown = read.json()
        assert [pf["facilityId"] for pf in shown["productFacilities"]] == facilities
        assert {k: v for k, v in shown.items() if k != "productFacilities"} == {
            k: v for k, v in everywhere.items() if k != "productFacilities"
        }


def _run_ids(db: Database) -> dict[str | None, str]:
    with db.reading() as session:
        runs = session.execute(
            select(ExternalInventoryReset.facility_id, ExternalInventoryReset.inventory_reset_id)
        )
        return dict(runs.tuples().all())


def test_a_reset_run_shows_only_to_tokens_of_its_facility(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    both = "FACILITY_1,FG001,40,\nFACILITY_2,FG002,4,\n"
    assert _reset(seeded_client, {}, both).status_code == 200
    assert _reset(seeded_client, {}, "FACILITY_1,FG003,9,\n").status_code == 200
    runs = _run_ids(seeded)
    first = bearer(seeded, "viewer", ["FACILITY_1"])
    spanning = bearer(seeded, "viewer", ["FACILITY_1", "FACILITY_2"])
    url = "/v1/external-inventory-resets/{}".format
    assert seeded_client.get(url(runs["FACILITY_1"]), headers=first).status_code == 200
    for run in (runs["FACILITY_2"], runs[None]):
        body = problem(seeded_client.get(url(run), headers=first), 403, "forbidden")
        assert body["detail"] == f"This token may not act on inventory reset {run}"
        assert seeded_client.get(url(run)).status_code == 200
    problem(
        seeded_client.get(url(runs[None]), headers=spanning), 403, "forbidden"
    )  # counts are not per facility
    problem(seeded_client.get(url("IR-NONE"), headers=first), 404, "not_found")


def test_another_facilitys_shipment_id_is_a_403_that_says_nothing_of_it(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    assert (
        seeded_client.post("/v1/shipments", json=shipment("SH-F2", originFacilityId="FACILITY_2")).status_code
        == 201
    )
    scoped = bearer(seeded, "oms", ["FACILITY_1"])
    before = _written(seeded)
    for refused in (
        seeded_client.post("/v1/shipments", json=shipment("SH-F2"), headers=scoped),
        seeded_client.get("/v1/shipments/SH-F2", headers=scoped),
    ):
        body = problem(refused, 403, "forbidden")
        assert body["detail"] == "This token may not act on shipment SH-F2"
        assert "FACILITY_2" not in refused.text
    assert _written(seeded) == before
    assert seeded_client.post("/v1/shipments", json=shipment("SH-F1"), headers=scoped).status_code == 201
    problem(seeded_client.post("/v1/shipments", json=shipment("SH-F1"), headers=scoped), 409, "conflict")


def _sale_and_return(facility_id: str, return_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    line = {"orderItemSeqId": "1", "productId": "FG001"}
    sale = {"orderId": f"P-{return_id}", "facilityId": facility_id, "items": [{**line, "quantity": 2}]}
    item = {**line, "returnItemSeqId": "1", "returnQuantity": 1}
    ret = {"returnId": return_id, "orderId": f"P-{return_id}", "facilityId": facility_id, "items": [item]}
    return sale, ret


def test_another_facilitys_return_id_is_a_403_that_says_nothing_of_it(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    sale, ret = _sale_and_return("FACILITY_2", "RET-F2")
    assert seeded_client.post("/v1/pos-sales", json=sale).status_code == 201
    assert seeded_client.post("/v1/returns", json=ret).status_code == 201
    scoped = bearer(seeded, "oms", ["FACILITY_1"])
    own_sale, own_return = _sale_and_return("FACILITY_1", "RET-F2")
    assert seeded_client.post("/v1/pos-sales", json=own_sale).status_code == 201
    before = _written(seeded)
    for refused in (
        seeded_client.post("/v1/returns", json=own_return, headers=scoped),
        seeded_client.get("/v1/returns/RET-F2", headers=scoped),
    ):
        body = problem(refused, 403, "forbidden")
        assert body["detail"] == "This token may not act on return RET-F2"
        assert "FACILITY_2" not in refused.text
    assert _written(seeded) == before
    own_return["returnId"] = "RET-F1"
    assert seeded_client.post("/v1/returns", json=own_return, headers=scoped).status_code == 201
    problem(seeded_client.post("/v1/returns", json=own_return, headers=scoped), 409, "conflict")


def test_another_facilitys_inventory_item_is_a_403_that_says_nothing_of_it(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    with seeded.reading() as session:
        item_id = session.scalars(
            select(InventoryItem.inventory_item_id).where(InventoryItem.facility_id == "FACILITY_2")
        ).first()
    scoped = bearer(seeded, "viewer", ["FACILITY_1"])
    for path in (f"/v1/inventory-items/{item_id}", f"/v1/inventory-items/{item_id}/details"):
        refused = seeded_client.get(path, headers=scoped)
        body = problem(refused, 403, "forbidden")
        assert body["detail"] == f"This token may not act on inventory item {item_id}"
        assert "FACILITY_2" not in refused.text
