"""Every ```http block of docs/procedures.md, sent in order on the demo data, is answered 2xx."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

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


def test_every_documented_request_is_accepted_in_order(seeded_client: TestClient) -> None:
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
        assert 200 <= answer.status_code < 300, f"block {number}: {r.method} {r.path}: {answer.text}"
        if r.path.startswith("/v1/external-inventory-resets"):
            assert answer.json()["linesFailed"] == 0, answer.text
