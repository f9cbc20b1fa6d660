"""docs/architecture.md stays true to the code (issue 21 item 7).

- every module path and package folder it names exists, and every dotted name it gives
  (`events.outbox.payload_around`) imports;
- its layer table and its layer flowchart are tests/unit/test_layers.py's LAYERS, in order;
- the events of its order-lifecycle diagram are event types, and running that lifecycle through
  the API publishes exactly those events, in that order, with exactly the payload keys drawn.
"""

import importlib
import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import stockledger
from stockledger.events.outbox import EVENT_TYPES
from tests.unit.test_layers import ENTRY_MODULES, LAYERS

SOURCE = Path(stockledger.__file__).parent
ROOT = SOURCE.parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
F = "FACILITY_1"
ADDED_TO_EVERY_PAYLOAD = {"changeByUserLoginId"}  # events.outbox.event_inserts, for the acting user

PATH = re.compile(r"(?<![\w/.<{])((?:[a-z_0-9]+/)+[a-z_0-9]+\.(?:py|md|yaml))\b")
TICKED_FILE = re.compile(r"`([a-z_0-9]+\.py)`")
BARE_FILE = re.compile(r"(?<![\w/.*<{-])([a-z_0-9]+\.py)\b")  # a module by its file name alone
TICKED_FOLDER = re.compile(r"`([a-z_]+)/`")
TICKED_DOTTED = re.compile(r"`([a-z_]+(?:\.[A-Za-z_0-9]+)+)(?:\(\))?`")
EVENT_ARROW = r"^\s*\w+\s*-[->)x]+\s*{alias}\s*:\s*(\w+)\s*\{{([^}}]*)\}}"


def _section(heading: str) -> str:
    start = DOC.index(heading)
    following = DOC.find("\n## ", start + len(heading))
    return DOC[start : following if following >= 0 else len(DOC)]


def _mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)


def test_every_module_path_it_names_exists() -> None:
    paths = set(PATH.findall(DOC))
    assert len(paths) > 20  # the pattern still finds the document's paths
    missing = [p for p in sorted(paths) if not (SOURCE / p).exists() and not (ROOT / p).exists()]
    assert missing == []


def test_every_file_and_folder_in_backticks_exists() -> None:
    names = {path.name for path in SOURCE.rglob("*.py")}
    files = [f for f in sorted(set(TICKED_FILE.findall(DOC))) if f not in names]
    folders = [d for d in sorted(set(TICKED_FOLDER.findall(DOC))) if not (SOURCE / d).is_dir()]
    assert (files, folders) == ([], [])


def _python_files() -> set[str]:
    return {
        path.name
        for folder in ("src", "tests", "bench", "docs", "scripts")
        for path in (ROOT / folder).rglob("*.py")
    }


def test_every_module_named_by_its_file_name_alone_exists() -> None:
    """`single.py`, `(sole_item_pg.py, …)`: a bare file name, in backticks or not, in the
    document or in the source's docstrings and comments, names a module that exists."""
    names = _python_files()
    named = set(BARE_FILE.findall(DOC))
    assert len(named) > 20  # the pattern still finds the document's names
    in_source = {
        (path.relative_to(SOURCE).as_posix(), name)
        for path in SOURCE.rglob("*.py")
        for name in BARE_FILE.findall(path.read_text(encoding="utf-8"))
    }
    missing = sorted(n for n in named if n not in names)
    missing_in_source = sorted((where, n) for where, n in in_source if n not in names)
    assert (missing, missing_in_source) == ([], [])


def test_every_module_path_the_source_names_exists() -> None:
    """`reservations/hot.py` in a docstring: a module path named in the source exists."""
    named = {
        (path.relative_to(SOURCE).as_posix(), found)
        for path in SOURCE.rglob("*.py")
        for found in PATH.findall(path.read_text(encoding="utf-8"))
    }
    assert len(named) > 20
    tests = ROOT / "tests"
    missing = [
        (where, p)
        for where, p in sorted(named)
        if not any((base / p).exists() for base in (SOURCE, ROOT, tests, SOURCE / where.split("/")[0]))
    ]
    assert missing == []


def test_every_dotted_name_it_gives_imports() -> None:
    packages = {p.name for p in SOURCE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    dotted = [d for d in sorted(set(TICKED_DOTTED.findall(DOC))) if d.split(".")[0] in packages]
    assert len(dotted) > 5
    assert [d for d in dotted if not _resolves(d)] == []


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module("stockledger." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def _package_names(cell: str) -> frozenset[str]:
    """`core/` -> core, `app.py` -> app, `__init__.py` -> stockledger (the package's own module)."""
    names = re.findall(r"`([a-z_]+)(?:/|\.py)`", cell)
    return frozenset("stockledger" if name == "__init__" else name for name in names)


def test_the_layer_table_is_the_layer_rule() -> None:
    rows = re.findall(r"^\| ([^|`]+?) \| (.*`.*) \|$", _section("### The layer rule"), flags=re.MULTILINE)
    assert [(name, _package_names(cell)) for name, cell in rows] == list(LAYERS)


def test_the_layer_flowchart_is_the_layer_rule() -> None:
    (chart,) = [b for b in _mermaid_blocks(_section("## Layers and folders")) if b.startswith("flowchart")]
    nodes = dict(re.findall(r'^\s*(\w+)\["(.*?)"\]', chart, flags=re.MULTILINE))
    drawn = {}
    for node, label in nodes.items():
        name, *rest = label.split("<br/>")
        listed = re.sub(r"\(.*?\)", "", " ".join(part for part in rest if not part.startswith("(")))
        drawn[name] = (node, frozenset(re.findall(r"([a-z_]+)(?:/|\.py)", listed)))
    assert {name: packages for name, (_, packages) in drawn.items()} == {
        name: packages - {"stockledger"} for name, packages in LAYERS
    }
    edges = re.findall(r"^\s*(\w+) -->\|may import\| (\w+)$", chart, flags=re.MULTILINE)
    chain = [drawn[name][0] for name, _ in reversed(LAYERS)]
    assert edges == list(pairwise(chain))


def test_modules_above_their_package_are_named() -> None:
    for module in ENTRY_MODULES:
        assert module.removeprefix("stockledger.").replace(".", "/") + ".py" in DOC


def _lifecycle_events() -> list[tuple[str, frozenset[str]]]:
    (diagram,) = _mermaid_blocks(_section("## The order lifecycle"))
    (outbox,) = re.findall(r"^\s*participant (\w+) as events/outbox\.py$", diagram, flags=re.MULTILINE)
    arrows = re.findall(EVENT_ARROW.format(alias=outbox), diagram, flags=re.MULTILINE)
    return [(event, frozenset(k.strip() for k in keys.split(","))) for event, keys in arrows]


def test_the_lifecycle_draws_event_types_only() -> None:
    drawn = [event for event, _ in _lifecycle_events()]
    assert len(drawn) == 5
    assert [e for e in drawn if e not in EVENT_TYPES] == []


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _events_after(client: TestClient, after: int) -> list[dict[str, Any]]:
    page = _ok(client.get("/v1/events", params={"after": after, "limit": 1000}), 200)
    assert page["next"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def _last_seq(client: TestClient) -> int:
    seq, items = 0, _events_after(client, 0)
    while items:
        seq = items[-1]["eventSeq"]
        items = _events_after(client, seq)
    return seq


def test_the_lifecycle_publishes_what_it_draws(seeded_client: TestClient) -> None:
    """Seed 003's order, step by step as the diagram draws it, on the seed demo data."""
    c = seeded_client
    before = _last_seq(c)
    lines = [
        {"orderItemSeqId": "00001", "productId": "FG002", "quantity": 5},
        {"orderItemSeqId": "00002", "productId": "FG001", "quantity": 3},
    ]
    order = {"facilityId": F, "items": lines}
    _ok(c.post("/v1/orders/O-LIFE/reserve", json=order), 200)
    _ok(c.delete("/v1/reservations/O-LIFE/00002"), 200)
    picks = _ok(c.get("/v1/orders/O-LIFE/pick-suggestions"), 200)["items"]
    assert [(p["productId"], p["quantityToPick"]) for p in picks] == [("FG002", 5)]
    shipment_item = {
        "shipmentItemSeqId": "00001",
        "orderItemSeqId": "00001",
        "productId": "FG002",
        "quantity": 5,
    }
    shipment = {
        "shipmentId": "SH-LIFE",
        "primaryOrderId": "O-LIFE",
        "originFacilityId": F,
        "items": [shipment_item],
    }
    _ok(c.post("/v1/shipments", json=shipment), 201)
    _ok(c.post("/v1/shipments/SH-LIFE/ship", json={}), 200)
    returned = {
        "returnItemSeqId": "00001",
        "orderItemSeqId": "00001",
        "productId": "FG002",
        "returnQuantity": 1,
    }
    _ok(
        c.post(
            "/v1/returns",
            json={"returnId": "R-LIFE", "orderId": "O-LIFE", "facilityId": F, "items": [returned]},
        ),
        201,
    )
    _ok(c.post("/v1/returns/R-LIFE/items/00001/inspect", json={"outcome": "AVAILABLE"}), 200)

    published = [
        (e["eventType"], frozenset(e["payload"]) - ADDED_TO_EVERY_PAYLOAD) for e in _events_after(c, before)
    ]
    assert published == _lifecycle_events()


def test_the_feed_example_in_events_md_has_the_drawn_payload() -> None:
    """docs/events.md's GET /v1/events example shows a StockReserved with the keys drawn here."""
    events_md = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    example = json.loads(re.findall(r"```json\n(.*?)```", events_md, flags=re.DOTALL)[0])
    (event,) = example["items"]
    drawn = dict(_lifecycle_events())
    assert frozenset(event["payload"]) - ADDED_TO_EVERY_PAYLOAD == drawn[event["eventType"]]
