"""/openapi.json is a contract a typed client can trust (core/openapi.py). Every operation has an
operation id in the domain's words, the problem+json answers with the one ProblemDetails schema,
its security, the Idempotency-Key on writes; every model has a name of the domain (none of
FastAPI's defaults); every quantity is a bounded number; every list has one shape.

A new route complies by being an APIRoute of the app: its function's name becomes its operation
id (or `operation_id=`), its answers get the problem set; its models must be named classes."""

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.app import create_app
from stockledger.core.errors import AppError
from stockledger.core.openapi import PROBLEM_STATUSES, problem_codes
from stockledger.idempotency.rules import WRITE_METHODS
from tests.e2e.test_docs_api import problem_codes_in_source

OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]*$")
MODEL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# FastAPI's generated names: Body_x_v1_y_post, Page_X_, HTTPValidationError, "Response X V1 Y Get".
FASTAPI_DEFAULTS = re.compile(
    r"^(Body_|Response |HTTPValidationError|ValidationError)|_(get|post|patch|delete)$"
)
PROBLEM = {"$ref": "#/components/schemas/ProblemDetails"}
QUANTITY_NAMES = re.compile(r"^(quantity|.*Quantity|.*Diff|.*Total|.*Var|minimumStock|unitCost|.*Cost)$")


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'unused.db'}"
    return create_app(url).openapi()


def _operations(contract: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, o) for p, ops in contract["paths"].items() for m, o in ops.items()]


def test_every_operation_has_an_operation_id_in_camel_case(contract: dict[str, Any]) -> None:
    ids = [o.get("operationId", "") for _, _, o in _operations(contract)]
    assert [i for i in ids if not OPERATION_ID.match(i) or "V1" in i] == []
    assert len(set(ids)) == len(ids)
    assert {"createReservation", "getAvailability", "listEvents"} <= set(ids)


def test_every_operation_declares_its_problem_answers(contract: dict[str, Any]) -> None:
    for method, path, operation in _operations(contract):
        responses = operation["responses"]
        open_route = operation.get("security") == []
        wanted = {"404", "405", "503"} if open_route else {str(s) for s in PROBLEM_STATUSES}
        assert wanted <= set(responses), (method, path)
        for status, answer in responses.items():
            if status.startswith(("4", "5")):
                assert answer["content"] == {"application/problem+json": {"schema": PROBLEM}}, (path, status)
        assert "Retry-After" in responses["503"]["headers"]
        assert responses["405"]["headers"]["Allow"]["schema"] == {"type": "string"}
        assert any(s.startswith("2") for s in responses), (method, path)


def test_every_operation_is_secured_but_the_open_ones(contract: dict[str, Any]) -> None:
    assert contract["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (stockledger token)",
    }
    assert contract["security"] == [{"bearerAuth": []}]
    open_paths = {p for _, p, o in _operations(contract) if o.get("security") == []}
    assert open_paths == {"/healthz", "/metrics"}


def test_writes_declare_the_idempotency_key_and_the_replay_header(contract: dict[str, Any]) -> None:
    for method, path, operation in _operations(contract):
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        write = method in WRITE_METHODS and path.startswith("/v1/")
        assert ("Idempotency-Key" in names) == write, (method, path)
        for status, answer in operation["responses"].items():
            if write and status.startswith("2"):
                assert "Idempotent-Replayed" in answer["headers"], (method, path)


def test_models_have_names_of_the_domain(contract: dict[str, Any]) -> None:
    names = list(contract["components"]["schemas"])
    assert [n for n in names if not MODEL_NAME.match(n) or FASTAPI_DEFAULTS.search(n)] == []
    assert {"Availability", "ProblemDetails", "OrderItemReservation", "ResetDocument"} <= set(names)
    for method, path, operation in _operations(contract):  # bodies and answers are named models
        bodies = [m["schema"] for m in operation.get("requestBody", {}).get("content", {}).values()]
        answers = [
            m["schema"] for a in operation["responses"].values() for m in a.get("content", {}).values()
        ]
        for schema in bodies + answers:
            branches = schema.get("anyOf", [schema])
            assert all("$ref" in b for b in branches) or schema.get("type") == "string", (path, schema)
            assert "title" not in schema, (method, path, schema)


def test_problem_codes_are_a_closed_set_holding_every_code_the_app_answers(contract: dict[str, Any]) -> None:
    declared = set(contract["components"]["schemas"]["ProblemCode"]["enum"])
    assert declared == set(problem_codes())
    assert problem_codes_in_source() <= declared


def _app_error_keywords() -> dict[str, set[str]]:
    """Every keyword an AppError (or a subclass) is raised with in src/: {keyword: {where}}."""
    kinds, pending = set(), [AppError]
    while pending:
        kind = pending.pop()
        kinds.add(kind.__name__)
        pending.extend(kind.__subclasses__())
    found: dict[str, set[str]] = {}
    for path in (Path(__file__).resolve().parents[2] / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                for keyword in node.keywords if name in kinds else ():
                    if keyword.arg is not None:  # **extra: passed on from a refusal scanned too
                        found.setdefault(keyword.arg, set()).add(f"{path.name}:{node.lineno}")
    return found


def test_every_member_a_problem_carries_is_typed(contract: dict[str, Any]) -> None:
    schemas = contract["components"]["schemas"]
    members = schemas["ProblemDetails"]["properties"]
    keywords = _app_error_keywords()
    assert {"available", "requested", "lines", "orderId", "inventoryItemId"} <= set(keywords)
    assert {k: w for k, w in keywords.items() if k not in members} == {}
    assert all({"type", "anyOf", "$ref"} & set(m) for m in members.values())
    assert members["lines"]["items"] == {"$ref": "#/components/schemas/ShortLine"}
    assert set(schemas["ShortLine"]["properties"]) == {
        "orderItemSeqId",
        "productId",
        "lotId",
        "requested",
        "available",
        "shortfall",
    }


def test_quantities_are_bounded_numbers(contract: dict[str, Any]) -> None:
    inputs = [
        s
        for n, s in contract["components"]["schemas"].items()
        if n.endswith(("Input", "Document", "Request"))
    ]
    checked = 0
    for schema in inputs:
        for name, field in schema.get("properties", {}).items():
            for branch in [field, *field.get("anyOf", ())]:
                if QUANTITY_NAMES.match(name) and branch.get("type") not in (None, "null", "array", "object"):
                    assert branch["type"] == "number", (name, branch)
                    assert "maximum" in branch
                    assert "minimum" in branch or "exclusiveMinimum" in branch
                    checked += 1
    assert checked > 20


def test_every_list_has_one_shape(contract: dict[str, Any]) -> None:
    pages = {n: s for n, s in contract["components"]["schemas"].items() if "items" in s.get("properties", {})}
    lists = [n for n, s in pages.items() if "next" in s["properties"]]
    assert sorted(lists) == [
        "DetailPage",
        "EventPage",
        "FacilityProductList",
        "ItemIssuanceList",
        "OrderReservationList",
        "PickList",
        "ProductFacilityInventoryPage",
        "ResetFailureList",
        "StockedItemList",
        "VarianceReasonList",
    ]
    for name in lists:
        schema = pages[name]
        assert {"items", "next"} <= set(schema["required"]), name
        assert schema["properties"]["next"] == {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "title": "Next",
        }
    for method, path, operation in _operations(contract):
        params = {p["name"]: p for p in operation.get("parameters", [])}
        answer = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if answer.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1] in lists:
            assert {"limit", "cursor"} <= set(params), (method, path)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_405_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.delete("/v1/facilities/FACILITY_1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, PATCH"
    assert response.json()["code"] == "method_not_allowed"
    written = client.put("/v1/reservations")
    assert written.status_code == 405
    assert written.headers["allow"] == "POST"
    assert client.head("/v1/reservations").headers["allow"] == "POST"


def test_head_answers_as_get_without_a_body(seeded_client: TestClient) -> None:
    for path in (
        "/v1/facilities/FACILITY_1",
        "/v1/product-facility-inventory?facilityId=FACILITY_1",
        "/v1/product-facility-inventory?facilityId=FACILITY_1&format=csv",
        "/healthz",
    ):
        got, head = seeded_client.get(path), seeded_client.head(path)
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.content == b"", path
        assert got.content != b"", path
    csv_head = seeded_client.head(
        "/v1/product-facility-inventory?facilityId=FACILITY_1", headers={"Accept": "text/csv"}
    )
    assert csv_head.status_code == 200
    assert csv_head.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_head.headers["content-disposition"].startswith("attachment;")


def test_the_contract_is_served(tmp_path: Path) -> None:
    with TestClient(create_app(f"sqlite:///{tmp_path / 'x.db'}")) as client:
        served = client.get("/openapi.json").json()
    assert served["components"]["schemas"]["ProblemDetails"]["required"][-1] == "code"


def test_closed_sets_are_enums_and_open_reason_sets_say_why(contract: dict[str, Any]) -> None:
    """SPEC §5 closes the rejection modes: an enum. It closes no reason set: variance reasons are a
    reference table (seed list plus VAR_EXT_RESET, loadable), rejection and return reasons ERP
    enumeration ids; a request's reason field says so, as no enum can. Receipt rejection reasons
    are the one closed list (the receive form's, issue 20 L10): an enum."""
    schemas = contract["components"]["schemas"]
    assert schemas["RejectionMode"]["enum"] == ["RELEASE", "ATP_ONE", "ATP_QOH_ONE", "ATP_ALL", "ATP_QOH_ALL"]
    assert schemas["RejectRequest"]["properties"]["rejectionMode"] == {
        "$ref": "#/components/schemas/RejectionMode"
    }
    inputs = {n: s for n, s in schemas.items() if not n.startswith("Problem")}
    reasons = [
        (name, member, field)
        for name, schema in inputs.items()
        for member, field in schema.get("properties", {}).items()
        if member.endswith("ReasonId") and "maxLength" in str(field)  # what a request sends
    ]
    assert {member for _, member, _ in reasons} == {
        "varianceReasonId",
        "rejectReasonId",
        "rejectionReasonId",
        "returnReasonId",
    }
    for name, member, field in reasons:
        described = [field.get("description", "")] + [
            b.get("description", "") for b in field.get("anyOf", ())
        ]
        if member == "rejectionReasonId":  # issue 20 L10: the receive form's closed list, an enum
            assert field["enum"] == [
                "SRJ_DAMAGED",
                "SRJ_NOT_ORDERED",
                "SRJ_OVER_SHIPPED",
                "SRJ_EXPIRED",
                None,
            ]
            assert any("a closed list" in d for d in described), (name, member)
            continue
        assert any("An open set in the contract" in d for d in described), (name, member)
