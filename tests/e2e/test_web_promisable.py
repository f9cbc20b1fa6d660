"""The staff pages show promisable ATP (SPEC §11) and, beside it, what cannot be promised, by kind."""

import re

from fastapi.testclient import TestClient

from stockledger.auth.service import create_token
from stockledger.core.db import Database
from tests.promisable_support import EXPIRED, FAR, add_item


def _signed_in(client: TestClient, db: Database) -> TestClient:
    with db.transaction() as session:
        client.cookies.set("stockledger_token", create_token(session, "viewer").token)
    return client


def _numbers(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-num="(\w+)">([^<]*)<', html))


def _stock_cells(html: str, product_id: str) -> dict[str, str]:
    row = re.search(rf'data-product-id="{product_id}">(.*?)</tr>', html, re.S)
    assert row is not None
    return dict(re.findall(r'data-col="(\w+)">(.*?)</td>', row.group(1), re.S))


def test_product_page_shows_promisable_atp_and_the_held_stock_by_kind(
    seeded: Database, client: TestClient
) -> None:
    page = _signed_in(client, seeded).get("/ui/facilities/FACILITY_1/products/FG001")
    assert page.status_code == 200
    before = _numbers(page.text)
    assert (before["on_hold"], before["expired"]) == ("0", "0")
    add_item(seeded, "FG001", "FG001-HOLD", 5, status_id="INV_ON_HOLD")
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    page = client.get("/ui/facilities/FACILITY_1/products/FG001")
    assert page.status_code == 200
    after = _numbers(page.text)
    assert int(after["qoh"]) == int(before["qoh"]) + 9
    assert after["atp"] == before["atp"]
    assert {k: after[k] for k in ("on_hold", "returned", "defective", "expired")} == {
        "on_hold": "5",
        "returned": "0",
        "defective": "0",
        "expired": "4",
    }


def test_stock_page_shows_promisable_atp_and_the_held_stock_by_kind(
    seeded: Database, client: TestClient
) -> None:
    page = _signed_in(client, seeded).get("/ui/facilities/FACILITY_1")
    assert page.status_code == 200
    before = _stock_cells(page.text, "FG001")
    assert before["held"] == "—"
    add_item(seeded, "FG001", "FG001-HOLD", 5, status_id="INV_ON_HOLD")
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    page = client.get("/ui/facilities/FACILITY_1")
    assert page.status_code == 200
    after = _stock_cells(page.text, "FG001")
    assert int(after["qoh"]) == int(before["qoh"]) + 9
    assert (after["atp"], after["computed"]) == (before["atp"], before["computed"])
    held = dict(re.findall(r'data-held="([^"]+)">[^<]* ([^<]+)</span>', after["held"]))
    assert held == {"on hold": "5", "expired": "4"}


def _status_cell(html: str, item_id: str) -> str:
    row = re.search(rf'data-item="{item_id}">(.*?)</tr>', html, re.S)
    assert row is not None, item_id
    cell = re.search(r'data-col="status">(.*?)</td>', row.group(1), re.S)
    assert cell is not None
    return cell.group(1)


def test_an_expired_lot_reads_expired_not_available(seeded: Database, client: TestClient) -> None:
    """Its status is still INV_AVAILABLE, but expired stock is not for sale (SPEC §11): the row says
    Expired, the code stays its tooltip; a lot not expired yet still reads Available."""
    add_item(seeded, "FG001", "FG001-OLD", 4, expire_date=EXPIRED)
    add_item(seeded, "FG001", "FG001-FRESH", 2, expire_date=FAR)
    page = _signed_in(client, seeded).get("/ui/facilities/FACILITY_1/products/FG001")
    assert page.status_code == 200
    assert _status_cell(page.text, "FG001-OLD") == (
        '<span class="coded expired" title="INV_AVAILABLE">Expired</span>'
    )
    assert (
        _status_cell(page.text, "FG001-FRESH") == '<span class="coded" title="INV_AVAILABLE">Available</span>'
    )
    assert (
        _status_cell(page.text, "FG001-INV-001")
        == '<span class="coded" title="INV_AVAILABLE">Available</span>'
    )
