"""Every ```http block of docs/procedures.md, sent in order on the demo data, is answered with its
operation's success status (OpenAPI: 201 for a create, 200 for the rest)."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stockledger.app import create_app

PROCEDURES = Path(__file__).resolve().parents[2] / "docs" / "procedures.md"
BLOCK = re.compile(r"^```http\n(.*?)^```$", re.MULTILINE | re.DOTALL)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class DocRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def doc_requests(text: str) -> list[DocRequest]:
    """A block is an HTTP message: `METHOD /path`, header lines, a blank line, the body."""
    found = []
    for block in BLOCK.findall(text):
        head, _, body = block.partition("\n\n")
        request_line, *header_lines = head.strip().splitlines()
        method, path = request_line.split(" ", 1)
        headers = dict(line.split(": ", 1) for line in header_lines)
        found.append(DocRequest(method, path.strip(), headers, body.strip()))
    return found


def test_the_convention_is_read_as_written() -> None:
    text = "x\n```http\nPOST /v1/a?b=1\nContent-Type: text/csv\n\na,b\n1,2\n```\n```http\nGET /v1/c\n```\n"
    assert doc_requests(text) == [
        DocRequest("POST", "/v1/a?b=1", {"Content-Type": "text/csv"}, "a,b\n1,2"),
        DocRequest("GET", "/v1/c"),
    ]


def success_status(spec: dict[str, Any], method: str, path: str) -> int:
    """The one 2xx status the OpenAPI document gives the operation `path` calls (201 for a create)."""
    bare = path.split("?", 1)[0]
    for template, operations in spec["paths"].items():
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), bare) and method.lower() in operations:
            statuses = [int(code) for code in operations[method.lower()]["responses"] if code.startswith("2")]
            if sorted(statuses) == [200, 201]:  # a create that may create nothing
                return 201  # (POST /v1/reservations: 200 for PARTIAL with nothing available)
            [status] = statuses
            return status
    raise AssertionError(f"{method} {path} is in no operation of the OpenAPI document")


def test_the_success_status_is_the_operations() -> None:
    spec = create_app("sqlite:///:memory:").openapi()
    assert success_status(spec, "POST", "/v1/reservations") == 201
    assert success_status(spec, "DELETE", "/v1/reservations/O1/00001?facilityId=F") == 200
    assert success_status(spec, "POST", "/v1/shipments/SH1/ship") == 200
    assert success_status(spec, "POST", "/v1/shipments") == 201


def test_every_documented_request_is_accepted_in_order(seeded_client: TestClient) -> None:
    spec = seeded_client.app.openapi()  # type: ignore[attr-defined]
    requests = doc_requests(PROCEDURES.read_text())
    assert len(requests) >= 20
    for number, r in enumerate(requests, 1):
        assert r.method in METHODS, r
        assert r.path.startswith("/v1/"), r
        content_type = r.headers.get("Content-Type", "application/json")
        if r.body and content_type == "application/json":
            json.loads(r.body)  # the doc's JSON is valid as written
        answer = seeded_client.request(
            r.method,
            r.path,
            content=r.body.encode() if r.body else None,
            headers={**r.headers, "Content-Type": content_type} if r.body else r.headers,
        )
        expected = success_status(spec, r.method, r.path)
        assert answer.status_code == expected, f"block {number}: {r.method} {r.path}: {answer.text}"
        if r.path.startswith("/v1/external-inventory-resets"):
            assert answer.json()["linesFailed"] == 0, answer.text
