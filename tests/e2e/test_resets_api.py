"""POST /v1/external-inventory-resets over HTTP: JSON and CSV bodies, per-line failures, bad bodies."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

CSV = "text/csv"


def _availability(client: TestClient, product: str) -> tuple[Any, Any]:
    body = client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": product}).json()
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"]


def _details(client: TestClient, item: str) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/inventory-items/{item}/details").json()["items"])


def test_a_json_reset_applies_good_lines_and_lists_the_failed_ones(seeded_client: TestClient) -> None:
    response = seeded_client.post(
        "/v1/external-inventory-resets",
        json={
            "source": "ERP",
            "lines": [
                {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 40},
                {"facilityId": "FACILITY_1", "productId": "FG002", "availableToPromise": 25.5},
                {
                    "facilityId": "FACILITY_1",
                    "productId": "FG003",
                    "quantityOnHand": 1,
                    "availableToPromise": 1,
                },
                {"facilityId": "FACILITY_1", "productId": "NOPE", "quantityOnHand": 1},
                {"facilityId": "FACILITY_1", "productId": "FG003", "quantityOnHand": -3},
            ],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["linesTotal"], body["linesChanged"], body["linesUnchanged"], body["linesFailed"]) == (
        5,
        2,
        0,
        3,
    )
    assert [(f["line"], f["code"]) for f in body["failures"]] == [
        (3, "both_quantities"),
        (4, "unknown_product"),
        (5, "negative_quantity"),
    ]
    assert body["source"] == "ERP"
    assert _availability(seeded_client, "FG001") == (40, 40)
    assert _availability(seeded_client, "FG002") == (25.5, 25.5)
    assert _availability(seeded_client, "FG003") == (62, 62)
    last = _details(seeded_client, "FG001-INV-001")[-1]
    assert (last["reasonEnumId"], last["inventoryResetId"], last["quantityOnHandDiff"]) == (
        "VAR_EXT_RESET",
        body["inventoryResetId"],
        9,
    )
    audit = seeded_client.get(f"/v1/external-inventory-resets/{body['inventoryResetId']}").json()
    assert (audit["linesChanged"], audit["linesFailed"], audit["source"], audit["facilityId"]) == (
        2,
        3,
        "ERP",
        "FACILITY_1",
    )


def test_a_csv_reset_over_http_and_its_idempotent_resend(seeded_client: TestClient) -> None:
    csv = (
        "facilityId,productId,quantityOnHand,availableToPromise\r\n"
        "FACILITY_1,FG001,,20\r\nFACILITY_1,FG003,nan,\r\n"
    )
    first = seeded_client.post(
        "/v1/external-inventory-resets?source=erp.csv", content=csv.encode(), headers={"content-type": CSV}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["linesChanged"], body["linesFailed"], body["source"]) == (1, 1, "erp.csv")
    assert body["failures"] == [
        {
            "line": 3,
            "code": "invalid_quantity",
            "message": "quantityOnHand is not a number: 'nan'",  # CSV text: a JSON number's grammar
            "facilityId": "FACILITY_1",
            "productId": "FG003",
        }
    ]
    assert _availability(seeded_client, "FG001") == (20, 20)
    rows = len(_details(seeded_client, "FG001-INV-001"))
    again = seeded_client.post(
        "/v1/external-inventory-resets", content=csv.encode(), headers={"content-type": CSV}
    )
    assert again.status_code == 200
    assert (again.json()["linesChanged"], again.json()["linesUnchanged"]) == (0, 1)
    assert len(_details(seeded_client, "FG001-INV-001")) == rows
    assert _availability(seeded_client, "FG001") == (20, 20)


def test_unusable_bodies_are_refused_and_change_nothing(seeded_client: TestClient) -> None:
    url = "/v1/external-inventory-resets"
    before = _details(seeded_client, "FG001-INV-001")
    cases = [
        (b'{"lines": [', "application/json", 400, "malformed_json"),
        (b'{"rows": []}', "application/json", 422, "validation_failed"),
        (b'{"lines": [], "source": 7}', "application/json", 422, "validation_failed"),
        (b"sku,qty\nFG001,3\n", CSV, 422, "validation_failed"),
        (b"", CSV, 422, "validation_failed"),
        (b"facilityId,productId,quantityOnHand\n\xff\xfe,FG001,3\n", CSV, 422, "validation_failed"),
        (b"<xml/>", "application/xml", 415, "unsupported_media_type"),
    ]
    for body, content_type, status, code in cases:
        response = seeded_client.post(url, content=body, headers={"content-type": content_type})
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code
    assert _details(seeded_client, "FG001-INV-001") == before
    assert seeded_client.get("/v1/external-inventory-resets/NOPE").status_code == 404


def test_a_csv_reset_sent_as_octet_stream_is_read_as_csv(seeded_client: TestClient) -> None:
    """What a client generated from the contract sends (its File body): the CSV's bytes as
    application/octet-stream, the type the contract declares beside JSON."""
    text = "facilityId,productId,quantityOnHand\nFACILITY_1,FG001,20\nFACILITY_1,NOPE,1\n"
    response = seeded_client.post(
        "/v1/external-inventory-resets?source=generated",
        content=text.encode(),
        headers={"content-type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["linesTotal"], answer["linesChanged"], answer["linesFailed"]) == (2, 1, 1)
    assert answer["source"] == "generated"
    assert _availability(seeded_client, "FG001")[0] == 20


def test_an_empty_reset_is_an_audited_run_of_nothing(seeded_client: TestClient) -> None:
    response = seeded_client.post("/v1/external-inventory-resets", json={"lines": []})
    assert response.status_code == 200
    assert response.json()["linesTotal"] == 0


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_a_csv_line_splits_only_at_newlines_as_the_cli_reads_it(
    seeded_client: TestClient, separator: str
) -> None:
    """str.splitlines() would split at these; the CLI and the page do not, and nor does the API."""
    text = f"facilityId,productId,quantityOnHand\nFACILITY_1,FG001,7{separator}FACILITY_1,FG002,5\n"
    response = seeded_client.post(
        "/v1/external-inventory-resets", content=text.encode(), headers={"content-type": CSV}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["linesTotal"], body["linesFailed"], body["linesChanged"]) == (1, 1, 0)
    assert body["failures"][0]["line"] == 2
    assert _availability(seeded_client, "FG002") != (5, 5)


def test_a_large_csv_over_http_is_read_as_it_streams(seeded_client: TestClient) -> None:
    rows = "".join(f"FACILITY_1,FG001,{n % 50}\r\n" for n in range(60_000))  # > 1 MB: spooled to disk
    text = "\ufefffacilityId,productId,quantityOnHand\r\n" + rows + "FACILITY_1,FG001,20\r\n"
    response = seeded_client.post(
        "/v1/external-inventory-resets", content=text.encode(), headers={"content-type": CSV}
    )
    assert response.status_code == 200, response.text
    assert response.json()["linesTotal"] == 60_001
    assert _availability(seeded_client, "FG001") == (20, 20)


def test_a_quantity_sent_as_a_json_string_fails_its_line(seeded_client: TestClient) -> None:
    lines = [
        {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": "1"},
        {"facilityId": "FACILITY_1", "productId": "FG002", "availableToPromise": "2.5"},
    ]
    body = seeded_client.post("/v1/external-inventory-resets", json={"lines": lines}).json()
    assert body["linesFailed"] == 2
    assert {f["code"] for f in body["failures"]} == {"invalid_quantity"}
    assert "not a JSON number" in body["failures"][0]["message"]
