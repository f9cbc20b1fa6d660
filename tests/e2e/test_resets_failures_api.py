"""An ERP reset's answer stays small however broken the input: the first 50 failed lines and
`failureCount`, and a refusal quotes at most ~200 characters of what was sent."""

from fastapi.testclient import TestClient

from stockledger.resets.service import LISTED_FAILURES


def test_a_reset_lists_the_first_50_failures_and_counts_them_all(seeded_client: TestClient) -> None:
    good = {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 7}
    unknown = {"facilityId": "FACILITY_1", "productId": "NOPE", "quantityOnHand": 1}
    response = seeded_client.post("/v1/external-inventory-resets", json={"lines": [unknown] * 5000 + [good]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["linesTotal"], body["linesChanged"], body["linesFailed"], body["failureCount"]) == (
        5001,
        1,
        5000,
        5000,
    )
    assert [f["line"] for f in body["failures"]] == list(range(1, LISTED_FAILURES + 1))


def test_a_line_that_is_no_object_refuses_the_whole_document(seeded_client: TestClient) -> None:
    """The contract declares each line an object: `[null]` is a broken document (422, nothing
    applied), not a failed line (schemathesis: a schema-violating request is not accepted)."""
    good = {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 7}
    for stray in (None, 1, "FG001", [good]):
        response = seeded_client.post("/v1/external-inventory-resets", json={"lines": [good, stray]})
        assert response.status_code == 422, response.text
        assert (response.json()["code"], response.json()["line"]) == ("validation_failed", 2)
    stock = seeded_client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": "FG001"})
    assert stock.json()["quantityOnHandTotal"] != 7


def test_a_csv_of_unknown_products_lists_50(seeded_client: TestClient) -> None:
    csv = "facilityId,productId,quantityOnHand\n" + "".join(f"FACILITY_1,NOPE{n},1\n" for n in range(2000))
    response = seeded_client.post(
        "/v1/external-inventory-resets", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (len(body["failures"]), body["failureCount"], body["failures"][0]["code"]) == (
        LISTED_FAILURES,
        2000,
        "unknown_product",
    )


def test_a_huge_csv_header_is_refused_without_echoing_it(seeded_client: TestClient) -> None:
    header = ",".join(f"column{n}" for n in range(100_000))
    response = seeded_client.post(
        "/v1/external-inventory-resets", content=header.encode() + b"\n", headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    assert len(response.content) < 1000


def test_a_csv_header_naming_a_column_twice_or_an_unknown_one_is_refused_whole(
    seeded_client: TestClient,
) -> None:
    """As a JSON member the contract does not list: 422, nothing applied (not the first value
    taken, nor every line failing no_quantity for a `QuantityOnHand`)."""
    url = "/v1/external-inventory-resets"
    before = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()
    headers = {
        "facilityId,productId,quantityOnHand,quantityOnHand": "twice",
        "facilityId,productId,quantityOnHand,note": "note",
        "facilityId,productId,QuantityOnHand": "QuantityOnHand",
        "facilityId,productId,quantityOnHand,": "not a column",
    }
    for header, named in headers.items():
        body = f"{header}\nFACILITY_1,FG001,3,4\n".encode()
        response = seeded_client.post(url, content=body, headers={"content-type": "text/csv"})
        assert response.status_code == 422, (header, response.text)
        assert response.json()["code"] == "validation_failed"
        assert named in response.json()["detail"]
    assert seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json() == before


def test_a_json_reset_with_a_nul_or_lone_surrogate_in_a_line_is_refused_whole(
    seeded_client: TestClient,
) -> None:
    """docs/api.md: text with a NUL (or a lone surrogate) anywhere in the body is 422; not one
    line failing while the others apply."""
    url = "/v1/external-inventory-resets"
    before = seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json()
    for bad in ('"FG\\u0000002"', '"FG\\ud800"'):
        body = (
            '{"lines": [{"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 3},'
            f' {{"facilityId": "FACILITY_1", "productId": {bad}, "quantityOnHand": 4}}]}}'
        )
        json_type = {"content-type": "application/json"}
        response = seeded_client.post(url, content=body.encode(), headers=json_type)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "validation_failed"
        assert "lines[1].productId" in response.json()["detail"]
    assert seeded_client.get("/v1/inventory-items/FG001-INV-001/details").json() == before
