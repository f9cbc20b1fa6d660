"""The staff pages in a real browser: uvicorn on a free port, Debian's Chromium, axe-core on each page.

One server and one browser for the module; the tests run in file order on one seeded SQLite
database (receiving in one test is what the history test then sees). Screenshots go to
artifacts/screenshots/ (git-ignored) for people to look at.
"""

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from stockledger.app import create_app
from stockledger.auth.service import create_token
from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core import migrate
from stockledger.core.db import Database

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE = ROOT / "src" / "stockledger" / "web" / "static" / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("STOCKLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Site:
    url: str
    db: Database
    tokens: dict[str, str]  # role (or "scoped") -> token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """uvicorn in a thread on a seeded SQLite file, stopped when the module is done."""
    path = tmp_path_factory.mktemp("web") / "web.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db.engine)
    load_documents(db, seed_documents())
    with db.transaction() as session:
        tokens = {role: create_token(session, role).token for role in ("admin", "store", "viewer", "oms")}
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Site(f"http://127.0.0.1:{port}", db, tokens)
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert shutil.which(CHROMIUM) is not None, f"{CHROMIUM} not installed (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page: Any, site: Site, role: str = "admin") -> None:
    page.goto(f"{site.url}/ui/login")
    page.get_by_label("Token").fill(site.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/ui")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found


def check_page(page: Any, name: str) -> None:
    """Save a screenshot for people to look at, then require axe to find nothing serious."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert serious_violations(page) == [], name


def numbers(page: Any) -> dict[str, str]:
    """The availability numbers shown on a product page."""
    return {k: page.locator(f"#numbers [data-num={k}]").inner_text() for k in ("qoh", "atp", "reserved")}


def stock_row(page: Any, product_id: str) -> dict[str, str]:
    row = page.locator(f"tr[data-product-id={product_id}]")
    cols = ("qoh", "atp", "reserved", "minimum", "computed")
    return {c: row.locator(f"[data-col={c}]").inner_text() for c in cols}


def test_sign_in_then_the_seed_numbers_on_the_stock_page(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/ui/facilities/FACILITY_1")
    page.wait_for_url(f"{site.url}/ui/login")  # not signed in: sent to the sign-in page
    assert page.title() == "Sign in · stockledger"
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("#token-error").inner_text() == "Enter your token."
    page.get_by_label("Token").fill("sl_nope_nope")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.locator("#token-error").inner_text()
    check_page(page, "01-sign-in-refused")
    sign_in(page, site)
    cookie = next(c for c in page.context.cookies() if c["name"] == "stockledger_token")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert page.title() == "Choose a facility · stockledger"
    check_page(page, "02-facilities")
    page.get_by_role("link", name="Main Street Store").click()
    page.wait_for_url(f"{site.url}/ui/facilities/FACILITY_1")
    assert page.title().startswith("Stock at ")
    assert stock_row(page, "FG001") == {
        "qoh": "31",
        "atp": "31",
        "reserved": "0",
        "minimum": "10",
        "computed": "21",
    }
    assert stock_row(page, "FG002") == {
        "qoh": "31",
        "atp": "31",
        "reserved": "0",
        "minimum": "15",
        "computed": "16",
    }
    assert stock_row(page, "FG003") == {
        "qoh": "62",
        "atp": "62",
        "reserved": "0",
        "minimum": "20",
        "computed": "42",
    }
    check_page(page, "03-stock")
    page.get_by_label("Search products").fill("fg003")  # htmx narrows the table as one types
    page.wait_for_function("document.querySelectorAll('tr[data-product-id]').length === 1")
    assert page.locator("tr[data-product-id]").get_attribute("data-product-id") == "FG003"


def test_receive_units_through_the_form_raises_qoh_and_atp(page: Any, site: Site) -> None:
    sign_in(page, site, "store")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG002")
    assert numbers(page) == {"qoh": "31", "atp": "31", "reserved": "0"}
    form = page.locator("form[action$='/receive']")
    form.get_by_label("Shipment (required)", exact=True).fill("SHIP_UI_1")
    form.get_by_label("Quantity accepted").fill("5")
    form.get_by_role("button", name="Receive").click()
    page.wait_for_selector("#product-main .notice")
    assert "Received 5" in page.locator("#product-main .notice").first.inner_text()
    assert numbers(page) == {"qoh": "36", "atp": "36", "reserved": "0"}
    check_page(page, "04-product-received")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1?q=FG002")
    assert stock_row(page, "FG002")["qoh"] == "36"
    assert stock_row(page, "FG002")["atp"] == "36"


def test_a_negative_count_shows_the_error_and_changes_nothing(page: Any, site: Site) -> None:
    details_before = _detail_count(site)
    sign_in(page, site, "store")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG003")
    field = page.get_by_label("Quantity counted")
    field.fill("-4")
    page.get_by_role("button", name="Record count").click()
    error = page.locator("#count-quantityCounted-error")
    error.wait_for()
    assert "zero or more" in error.inner_text()
    assert page.get_by_label("Quantity counted").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Quantity counted").input_value() == "-4"  # what was typed stays, to correct
    assert numbers(page) == {"qoh": "62", "atp": "62", "reserved": "0"}
    assert _detail_count(site) == details_before
    check_page(page, "05-count-refused")


def test_the_item_history_shows_the_new_row_and_the_chart(page: Any, site: Site) -> None:
    sign_in(page, site, "viewer")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG002")
    assert page.locator("form").filter(has=page.get_by_role("button", name="Receive")).count() == 0
    page.locator("a[title='Item FG002-INV-001']").click()  # the link reads lot · status · received
    page.wait_for_url(f"{site.url}/ui/items/FG002-INV-001")
    assert page.title() == "History of FG002-INV-001 · stockledger"
    newest = page.locator("table.history tbody tr").first
    assert "Received" in newest.inner_text()
    assert newest.locator("[title=RECEIPT]").count() == 1  # the code as the wording's tooltip
    assert "+5" in newest.inner_text()
    assert "shipment SHIP_UI_1/00001" in newest.inner_text()
    assert page.locator("figure.chart svg path.qoh").count() == 1
    check_page(page, "06-item-history")


def test_an_erp_reset_upload_applies_the_file(page: Any, site: Site, tmp_path: Path) -> None:
    csv = tmp_path / "erp.csv"
    csv.write_text("facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,FG001,40,\n")
    sign_in(page, site)
    page.get_by_role("link", name="ERP reset").click()
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Upload and apply").click()
    page.wait_for_selector("#outcome-h")
    assert page.locator("#outcome-h").inner_text().startswith("Applied")
    assert page.locator("#reset-progress").get_attribute("value") == "100"
    check_page(page, "07-reset-applied")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1?q=FG001")
    assert stock_row(page, "FG001")["qoh"] == "40"


def test_a_variance_below_zero_is_refused_then_confirmed(page: Any, site: Site) -> None:
    sign_in(page, site, "store")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG003")
    before = numbers(page)
    details_before, sum_before = _detail_count(site), _detail_sum(site)
    form = page.locator("form[action$='/variance']")
    form.get_by_label("Quantity (negative to remove)").fill("-500")
    form.get_by_label("Reason").select_option("VAR_LOST")
    form.get_by_role("button", name="Log variance").click()
    confirm = page.get_by_role("button", name="Log anyway, below zero")
    confirm.wait_for()
    assert "would take it below zero" in form.locator(".error-summary").inner_text()
    assert numbers(page) == before
    assert _detail_count(site) == details_before
    check_page(page, "11-variance-confirm")
    confirm.click()
    page.wait_for_selector("#product-main .notice")
    assert "Variance of -500" in page.locator("#product-main .notice").first.inner_text()
    assert numbers(page)["qoh"] == str(int(before["qoh"]) - 500)
    # A removal by product comes from its sellable stock as a whole: a ledger row per item it
    # touched (FG003 has two sellable items), summing to the −500.
    assert _detail_count(site) > details_before
    assert _detail_sum(site) == sum_before - 500
    assert page.get_by_role("button", name="Log anyway, below zero").count() == 0


def test_pages_fit_a_phone_and_are_keyboard_reachable(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, site, "store")
        for name, path in (
            ("08-phone-stock", "/ui/facilities/FACILITY_1"),
            ("09-phone-product", "/ui/facilities/FACILITY_1/products/FG001"),
            ("10-phone-history", "/ui/items/FG001-INV-001"),
        ):
            page.goto(site.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
            check_page(page, name)
        page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG001")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        reached = set()
        for _ in range(60):
            page.keyboard.press("Tab")
            reached.add(
                page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
            )
        assert {"count-quantityCounted", "receive-quantityAccepted", "variance-quantity"} <= reached
    finally:
        context.close()


def _detail_sum(site: Site) -> int:
    """The sum of every ledger row's QOH diff."""
    from sqlalchemy import func, select

    from stockledger.ledger.models import InventoryItemDetail

    with site.db.reading() as session:
        return int(session.scalar(select(func.sum(InventoryItemDetail.quantity_on_hand_diff))) or 0)


def _detail_count(site: Site) -> int:
    from sqlalchemy import func, select

    from stockledger.ledger.models import InventoryItemDetail

    with site.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(InventoryItemDetail)) or 0)
