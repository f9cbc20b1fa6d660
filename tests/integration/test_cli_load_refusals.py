"""`stockledger load` refuses what POST /v1/import refuses, naming the file and the errors'
locations, before anything is written: a NUL in text, a file that is not UTF-8, an invalid
document after a valid one, a duplicate line in one document (a product named twice is
merged instead: test_product_import_batches.py); Ctrl-C exits 130 quietly."""

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from stockledger import cli
from stockledger.catalog import cli as catalog_cli
from stockledger.catalog.cli import load_documents
from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.core.errors import ValidationFailed
from stockledger.ledger.models import Facility, InventoryItemDetail, Product

runner = CliRunner()
NUL_PRODUCT = {"facilityId": "FN", "products": [{"productId": "PN", "productName": "a\u0000b"}]}


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


def _write(folder: Path, name: str, document: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(document))
    return str(path)


def _count(db: Database, column: Any) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count(column))) or 0)


def test_a_nul_in_text_is_refused_by_load_as_by_the_api(
    env: str, db: Database, client: TestClient, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["load", _write(tmp_path, "nul.json", NUL_PRODUCT)])
    assert result.exit_code == 2, result.output
    assert (
        "validation_failed: nul.json: The document does not match its schema (nothing written)"
        in result.output
    )
    assert "products.0: productName: Text may not contain the NUL character (U+0000)" in result.output
    assert "Traceback" not in result.output
    assert _count(db, Facility.facility_id) == 0
    answer = client.post("/v1/import", json=NUL_PRODUCT)
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_failed"


def test_a_nul_in_a_nested_record_is_refused_by_the_model() -> None:
    items = [{"inventoryItemId": "I", "productId": "P", "facilityId": "F", "lotId": "L\u0000"}]
    with pytest.raises(ValidationFailed) as refused:
        catalog_cli.parse_document(items)
    assert refused.value.extra["errors"][0]["loc"] == [0]
    assert refused.value.extra["errors"][0]["msg"].startswith("lotId: Text may not contain the NUL")


def test_a_file_not_in_utf8_is_one_line_naming_it(env: str, db: Database, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"facilityId": "FL", "facilityName": "caf\xe9"}')
    result = runner.invoke(app, ["load", str(latin1)])
    assert result.exit_code == 2, result.output
    assert "latin1.json: not UTF-8" in result.output
    assert "nothing written" in result.output
    assert "Traceback" not in result.output
    assert _count(db, Facility.facility_id) == 0


def test_an_invalid_later_file_is_named_and_nothing_is_written(
    env: str, db: Database, tmp_path: Path
) -> None:
    good = _write(tmp_path, "a.json", {"facilityId": "FA", "products": [{"productId": "PA"}]})
    bad = _write(
        tmp_path, "b.json", {"facilityId": "FB", "products": [{"productId": "has a blank"}, {"x": 1}]}
    )
    result = runner.invoke(app, ["load", good, bad])
    assert result.exit_code == 2, result.output
    assert (
        "validation_failed: b.json: The document does not match its schema (nothing written)" in result.output
    )
    assert "products.0.productId:" in result.output
    assert "products.1.x:" in result.output
    assert _count(db, Facility.facility_id) == 0
    assert _count(db, Product.product_id) == 0


def test_a_refusal_while_writing_shows_what_the_files_before_it_committed(
    env: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files 1 and 2 commit, file 3 names a location its facility lacks: the outcome table of
    1 and 2 (they are in the database), then the refusal naming 3; 4 is not written."""
    monkeypatch.setattr(cli.console, "width", 200)
    header = {"facilityId": "FW", "facilityLocations": [{"locationSeqId": "L1"}]}
    files = [
        _write(tmp_path, "one.json", {**header, "products": [{"productId": "W1"}, {"productId": "W2"}]}),
        _write(tmp_path, "two.json", {**header, "products": [{"productId": "W3"}]}),
        _write(
            tmp_path,
            "three.json",
            {
                **header,
                "products": [{"productId": "W4", "productFacilityLocations": [{"locationSeqId": "NO"}]}],
            },
        ),
        _write(tmp_path, "four.json", {**header, "products": [{"productId": "W5"}]}),
    ]
    result = runner.invoke(app, ["load", *files])
    assert result.exit_code == 2, result.output
    table = result.output[: result.output.index("three.json:")]
    rows = [line for line in table.splitlines() if ".json" in line]
    assert [row.split()[1] for row in rows] == ["one.json", "two.json"]
    assert "products 2" in rows[0]
    assert "products 1" in rows[1]
    assert "(this document rolled back, the ones before it committed)" in result.output
    assert "four.json" not in result.output
    with db.reading() as session:
        assert sorted(session.scalars(select(Product.product_id))) == ["W1", "W2", "W3"]


def test_a_refusal_of_the_first_file_shows_no_table(env: str, db: Database, tmp_path: Path) -> None:
    header = {"facilityId": "FW", "facilityLocations": [{"locationSeqId": "L1"}]}
    refused = {
        **header,
        "products": [{"productId": "W4", "productFacilityLocations": [{"locationSeqId": "NO"}]}],
    }
    result = runner.invoke(app, ["load", _write(tmp_path, "first.json", refused)])
    assert result.exit_code == 2, result.output
    assert "first.json: Location NO is not a location of facility FW" in result.output
    assert "(nothing committed)" in result.output
    assert "created" not in result.output  # no table: nothing committed
    assert _count(db, Product.product_id) == 0


def test_too_many_records_names_the_file(db: Database) -> None:
    with pytest.raises(ValidationFailed) as refused:
        load_documents(db, [("ok.json", {"productId": "P1"}), ("big.json", [{}] * 60_000)])
    assert refused.value.detail.startswith("big.json: ")
    assert _count(db, Product.product_id) == 0


DUPLICATES = [
    (
        [
            {
                "inventoryItemId": "D1",
                "productId": "PD",
                "facilityId": "FD",
                "inventoryItemDetails": [
                    {"inventoryItemDetailSeqId": "1", "quantityOnHandDiff": 3, "availableToPromiseDiff": 3},
                    {"inventoryItemDetailSeqId": "1", "quantityOnHandDiff": 8, "availableToPromiseDiff": 8},
                ],
            }
        ],
        [0, "inventoryItemDetails"],
        "inventoryItemDetailSeqId 1 appears twice: on lines 1 and 2",
    ),
    (
        [
            {"inventoryItemId": "D2", "productId": "PD", "facilityId": "FD", "lotId": "first"},
            {"inventoryItemId": "D2", "productId": "PD", "facilityId": "FD", "lotId": "second"},
        ],
        [],
        "inventoryItemId D2 appears twice: on lines 1 and 2",
    ),
    (
        {
            "facilityId": "FD",
            "facilityLocations": [{"locationSeqId": "L", "areaId": "A"}, {"locationSeqId": "L"}],
        },
        ["facilityLocations"],
        "locationSeqId L appears twice: on lines 1 and 2",
    ),
]


@pytest.mark.parametrize(("document", "loc", "msg"), DUPLICATES)
def test_a_duplicate_line_in_one_document_is_refused(
    client: TestClient, db: Database, document: Any, loc: list[Any], msg: str
) -> None:
    base = {"facilityId": "FD", "products": [{"productId": "PD"}]}
    assert client.post("/v1/import", json=base).status_code == 200
    answer = client.post("/v1/import", json=document)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"] == [{"loc": loc, "msg": msg, "type": "duplicate_line"}]
    assert _count(db, InventoryItemDetail.inventory_item_id) == 0
    assert _count(db, Product.product_id) == 1


def test_ctrl_c_while_loading_exits_130_without_a_traceback(
    env: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _write(tmp_path, "a.json", {"facilityId": "FA"})
    second = _write(tmp_path, "b.json", {"facilityId": "FB"})
    loaded = catalog_cli.load_parsed

    def interrupted_on_the_second(session: Any, parsed: Any, tick: Any, *placed: Any) -> Any:
        outcome = loaded(session, parsed, tick, *placed)  # written, then the interrupt before the commit
        if parsed[1].facility_id == "FB":
            raise KeyboardInterrupt
        return outcome

    monkeypatch.setattr(catalog_cli, "load_parsed", interrupted_on_the_second)
    result = runner.invoke(app, ["load", first, second])
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    table, _, stop = result.output.partition("interrupted:")
    assert "a.json" in table  # what committed, above the interrupt
    assert "b.json" not in table
    assert "the document being written rolled back, the ones above committed" in stop
    with db.reading() as session:
        assert list(session.scalars(select(Facility.facility_id))) == ["FA"]


def test_ctrl_c_in_the_first_file_says_nothing_committed(
    env: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog_cli, "load_parsed", interrupted)
    result = runner.invoke(app, ["load", _write(tmp_path, "a.json", {"facilityId": "FA"})])
    assert result.exit_code == 130, result.output
    assert "interrupted: the document being written rolled back, nothing committed" in result.output
    assert "a.json" not in result.output  # no table
    assert _count(db, Facility.facility_id) == 0


def test_a_lost_connection_after_a_commit_still_shows_what_committed(
    env: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the connection while the second file is written (an outside tester:
    pg_terminate_backend): the first file's row of the table, then the error as before."""
    first = _write(tmp_path, "a.json", {"facilityId": "FA"})
    second = _write(tmp_path, "b.json", {"facilityId": "FB"})
    loaded = catalog_cli.load_parsed

    def cut_on_the_second(session: Any, parsed: Any, tick: Any, *placed: Any) -> Any:
        if parsed[1].facility_id == "FB":
            raise OperationalError(
                "INSERT …", {}, Exception("terminating connection due to administrator command")
            )
        return loaded(session, parsed, tick, *placed)

    monkeypatch.setattr(catalog_cli, "load_parsed", cut_on_the_second)
    result = runner.invoke(app, ["load", first, second])
    assert result.exit_code == 2, result.output
    table, found, _ = result.output.partition("terminating connection")
    assert found  # the error, as before
    assert "a.json" in table
    assert "stopped: the document being written rolled back, the ones above committed" in table
    assert "b.json" not in result.output
    assert "Traceback" not in result.output
    with db.reading() as session:
        assert list(session.scalars(select(Facility.facility_id))) == ["FA"]


def test_a_narrow_table_folds_the_file_names_never_cuts_them(
    env: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.console, "width", 40)
    name = "catalog_2026_01_products_of_the_north.json"
    result = runner.invoke(app, ["load", _write(tmp_path, name, {"facilityId": "FA"})])
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1:-1] for line in result.output.splitlines() if line.count("│") > 2]
    assert "…" not in result.output  # no cell cut short: "pr… 10" said nothing of what was created
    assert name in "".join(row[0].strip() for row in rows)
    assert "".join(row[2].strip() for row in rows) == "facilities 1"  # created: folded, all of it


def test_load_reads_quantities_exactly_as_the_api_does(
    env: str, db: Database, client: TestClient, tmp_path: Path
) -> None:
    """A float cannot hold 1.0000000000000001: read as one, it was the 1 a document never said."""
    text = (
        '{"facilityId": "FQ", "facilityName": "Q", "products": '
        '[{"productId": "PQ", "productFacility": {"minimumStock": 1.0000000000000001}}]}'
    )
    path = tmp_path / "exact.json"
    path.write_text(text)
    result = runner.invoke(app, ["load", str(path)])
    assert result.exit_code == 2, result.output
    assert "minimumStock" in result.output
    assert "6 decimal places" in result.output
    assert _count(db, Facility.facility_id) == 0
    answer = client.post("/v1/import", content=text, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert _count(db, Facility.facility_id) == 0


def test_a_document_naming_a_member_twice_is_refused_by_load_as_by_the_api(
    env: str, db: Database, tmp_path: Path
) -> None:
    """json.loads kept the last of the two: the file loaded product PB, named nowhere else."""
    path = tmp_path / "twice.json"
    path.write_text('{"facilityId": "FT", "products": [{"productId": "PA", "productId": "PB"}]}')
    result = runner.invoke(app, ["load", str(path)])
    assert result.exit_code == 2, result.output
    assert 'products.0.productId: the member "productId" appears twice in one object' in result.output
    assert "nothing written" in result.output
    assert (_count(db, Facility.facility_id), _count(db, Product.product_id)) == (0, 0)


def test_ctrl_c_while_the_files_are_read_says_nothing_was_written(
    env: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(path: Path) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_read_document", interrupted)
    result = runner.invoke(app, ["load", _write(tmp_path, "a.json", {"facilityId": "FA"})])
    assert result.exit_code == 130, result.output
    assert "interrupted while reading the files: nothing written" in result.output
    assert _count(db, Facility.facility_id) == 0


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"facilityId": "FD", "products": [], "x": ' + "1" * 5000 + "}", "deep.json: cannot be read: "),
        ("[" * 100_000 + "]" * 100_000, "deep.json: nested too deep to read; nothing written"),
        ('{"a": ' * 5_000 + "1" + "}" * 5_000, "deep.json: nested too deep to read; nothing written"),
    ],
    ids=["integer-of-5000-digits", "arrays-100000-deep", "objects-5000-deep"],
)
def test_json_past_what_the_reader_takes_is_one_line_naming_the_file(
    env: str, db: Database, tmp_path: Path, text: str, said: str
) -> None:
    """An outside tester's files: a 5,000-digit integer (Python's int conversion limit) and
    nesting past the interpreter's recursion limit ended `load` in a traceback, exit 1."""
    good = _write(tmp_path, "a.json", {"facilityId": "FA", "products": [{"productId": "PA"}]})
    (tmp_path / "deep.json").write_text(text)
    result = runner.invoke(app, ["load", good, str(tmp_path / "deep.json")])
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert "nothing written" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _count(db, Facility.facility_id) == 0


@pytest.mark.parametrize(
    ("settings", "loc"),
    [
        ({"productFacility": {"minimumStock": 1}}, "productFacility"),
        (
            {"productFacilityLocations": [{"locationSeqId": "L01", "minimumStock": 4}]},
            "productFacilityLocations",
        ),
    ],
    ids=["productFacility", "productFacilityLocations"],
)
def test_a_product_document_with_facility_settings_is_refused_not_half_loaded(
    env: str, db: Database, client: TestClient, tmp_path: Path, settings: dict[str, Any], loc: str
) -> None:
    """A product document on its own names no facility: its settings for one were dropped and
    the answer counted the product alone (outside tester). Refused by both doors, nothing written."""
    document = {"productId": "SOLO1", "productName": "solo", **settings}
    answer = client.post("/v1/import", json=document)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    (error,) = answer.json()["errors"]
    assert error["loc"] == [loc]
    assert "names no facility" in error["msg"]
    result = runner.invoke(app, ["load", _write(tmp_path, "solo.json", document)])
    assert result.exit_code == 2, result.output
    assert f"solo.json: The document does not match its schema (nothing written)\n  {loc}: a product" in (
        result.output
    )
    assert _count(db, Product.product_id) == 0


def test_a_product_document_without_facility_settings_still_loads(
    env: str, db: Database, client: TestClient
) -> None:
    empty = {
        "productId": "SOLO2",
        "productName": "solo",
        "productFacility": None,
        "productFacilityLocations": [],
    }
    answer = client.post("/v1/import", json=empty)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == {"products": 1}


def test_a_file_starting_with_a_byte_order_mark_loads_as_the_api_takes_it(
    env: str, db: Database, client: TestClient, tmp_path: Path
) -> None:
    """POST /v1/import took a UTF-8 BOM before the JSON, `load` refused the same file (outside tester)."""
    document = {"facilityId": "FB", "facilityName": "bom", "products": [{"productId": "PB"}]}
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document).encode())
    answer = client.post(
        "/v1/import", content=path.read_bytes(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    result = runner.invoke(app, ["load", str(path)])
    assert result.exit_code == 0, result.output
    assert _count(db, Product.product_id) == 1
