"""The contract declares each list cursor as it really is (issue 20 F6, schemathesis ST202): the
format that names its kind and a description that says what it encodes and that any other string
is a 422. Checked on the served contract and on cursors the lists really issue, on both databases."""

import base64
import json

import pytest
from fastapi.testclient import TestClient

FORMATS = {
    "/v1/orders/{order_id}/pick-suggestions": "seq-cursor",
    "/v1/orders/{order_id}/reservations": "key3-cursor",
    "/v1/inventory-items/{inventory_item_id}/details": "seq-cursor",
    "/v1/product-facility-inventory": "key-cursor",
    "/v1/facilities/{facility_id}/products": "id-cursor",
}


def test_every_cursor_parameter_declares_its_format_pattern_and_meaning(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    found = {}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] != "cursor":
                    continue
                schema = parameter["schema"]
                found[path] = schema["format"]
                assert "pattern" not in schema, path  # the format's generator makes real ones
                assert schema["maxLength"] == 500, path
                for described in (schema["description"], parameter["description"]):
                    assert described.startswith("The `next` of the previous page, sent back unchanged."), path
                    assert "base64url (no padding) of a JSON array of" in described, path
                    assert described.endswith(
                        "a string this service did not issue is 422 `validation_failed`"
                    )
    assert found.items() >= FORMATS.items()
    assert set(found.values()) == {"seq-cursor", "key-cursor", "id-cursor", "key3-cursor"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/inventory-items/FG001-INV-001/details?limit=1",
        "/v1/product-facility-inventory?limit=1",
        "/v1/facilities/FACILITY_1/products?limit=1",
        "/v1/variance-reasons?limit=1",
    ],
)
def test_the_cursors_a_list_issues_match_the_declared_pattern(seeded_client: TestClient, path: str) -> None:
    first = seeded_client.get(path)
    assert first.status_code == 200, first.text
    issued = first.json()["next"]
    assert issued is not None
    key = json.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))  # as described
    assert isinstance(key, list), key
    assert seeded_client.get(f"{path}&cursor={issued}").status_code == 200
    refused = seeded_client.get(f"{path}&cursor=not-a-cursor")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "cursor" in refused.text
