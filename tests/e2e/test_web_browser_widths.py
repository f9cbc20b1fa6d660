"""Every staff page in Chromium at desktop (1280 px) and phone (390 px) width: a screenshot of each
kept in artifacts/screenshots/<width>/ (git-ignored), no sideways scroll at 390 px, axe-core without
serious or critical violations; and what only a browser shows (the ERP file kept after an error,
sorting by a heading, the items' QOH and ATP in view on a phone)."""

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_web_browser import ROOT, Site, browser, serious_violations, sign_in, site

__all__ = ["browser", "site"]  # the module's fixtures: one server, one browser
WIDTHS = {"desktop": 1280, "phone": 390}
SHOTS = ROOT / "artifacts" / "screenshots"
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"


@pytest.fixture(params=sorted(WIDTHS), ids=str)
def page(request: pytest.FixtureRequest, browser: Any) -> Any:
    width = WIDTHS[request.param]
    phone = width < 600
    context = browser.new_context(viewport={"width": width, "height": 844}, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.width_name = request.param
    yield page
    context.close()


def look(page: Any, name: str) -> None:
    """Screenshot, no sideways scroll, nothing serious for axe."""
    folder = SHOTS / page.width_name
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    width = WIDTHS[page.width_name]  # not innerWidth: a phone widens its layout to fit what overflows
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways"
    assert serious_violations(page) == [], name


def test_every_page_at_both_widths(page: Any, site: Site, tmp_path: Path) -> None:
    page.goto(f"{site.url}/ui/login")
    look(page, "01-sign-in")
    sign_in(page, site)
    look(page, "02-facilities")
    reserve_some(page, site)  # the product page shows its table of active reservations
    for name, path in (
        ("03-stock", "/ui/facilities/FACILITY_1"),
        ("04-stock-sorted-by-atp", "/ui/facilities/FACILITY_1?sort=atp&dir=desc"),
        ("05-stock-below-minimum", "/ui/facilities/FACILITY_1?belowMinimum=true"),
        ("06-product", "/ui/facilities/FACILITY_1/products/FG001"),
        ("08-item-history", "/ui/items/FG001-INV-001"),
        ("09-erp-reset", "/ui/resets"),
        ("11-not-found", "/ui/items/NO_SUCH_ITEM"),
    ):
        page.goto(site.url + path)
        look(page, name)
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG001")
    width = WIDTHS[page.width_name]
    for cell in ("[data-col=reserved]", "button.cancel-line"):
        box = page.locator(f"table.reservations {cell}").first.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width, f"{cell} is off-screen at {width} px"
    receive = page.locator("form[action$='/receive']")
    receive.get_by_role("button", name="Receive").click()
    receive.locator("#receive-quantityAccepted-error").wait_for()
    assert receive.locator("#receive-shipmentId-error").is_visible()  # both missing fields, at once
    look(page, "07-product-receive-refused")
    csv = tmp_path / "erp.csv"
    csv.write_text(HEADER + "FACILITY_1,FG003,62,\nFACILITY_1,NOPE,1,\n")
    page.goto(f"{site.url}/ui/resets")
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Upload and apply").click()
    page.wait_for_selector("#outcome-h")
    look(page, "10-erp-reset-in-part")


def reserve_some(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG001")
    reserve = page.locator("form[action$='/reserve']")
    reserve.locator("#reserve-orderId").fill(f"ORD_{page.width_name.upper()}")
    reserve.locator("#reserve-quantity").fill("2")
    reserve.get_by_role("button", name="Reserve").click()
    page.locator("table.reservations").wait_for()


def test_the_erp_file_stays_chosen_after_failed_lines(page: Any, site: Site, tmp_path: Path) -> None:
    qoh = 30 + WIDTHS[page.width_name] % 7  # each width's run changes FG001 again
    csv = tmp_path / "erp.csv"
    csv.write_text(HEADER + f"FACILITY_1,FG001,{qoh},\nFACILITY_1,NOPE,1,\nFACILITY_1,FG002,-3,\n")
    sign_in(page, site)
    page.goto(f"{site.url}/ui/resets")
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Upload and apply").click()
    page.wait_for_selector("#outcome-h")
    assert page.locator("#outcome-h").inner_text().startswith("Applied in part")
    assert page.locator("table.failures tbody tr").count() == 2
    assert page.locator("table.changes tr[data-product-id=FG001] [data-col=qoh]").inner_text() == str(qoh)
    assert page.evaluate("document.getElementById('reset-file').files.length") == 1
    assert page.evaluate("document.getElementById('reset-file').files[0].name") == "erp.csv"


def test_a_heading_sorts_the_stock_and_the_items_fit_a_phone(page: Any, site: Site) -> None:
    sign_in(page, site, "viewer")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1")
    page.locator("thead a.sort", has_text="Minimum stock").click()
    page.wait_for_url("**sort=minimum**")
    page.locator("thead a.sort", has_text="Minimum stock").click()  # again: the other way
    page.wait_for_url("**dir=desc**")
    ids = page.locator("tr[data-product-id]").evaluate_all("rows => rows.map(r => r.dataset.productId)")
    assert ids == ["FG003", "FG002", "FG001"]
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("Minimum stock")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG001")
    width = WIDTHS[page.width_name]
    for column in ("qoh", "atp"):
        box = page.locator(f"tr[data-item] [data-col={column}]").first.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width, f"{column} is cut off at {width} px"


def test_a_form_sent_after_signing_in_again_elsewhere_shows_why(page: Any, site: Site) -> None:
    sign_in(page, site)
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG001")
    # Another tab signs in with another token: this page's form token is now stale.
    page.context.add_cookies([{"name": "stockledger_token", "value": site.tokens["store"], "url": site.url}])
    variance = page.locator("form[action$='/variance']")
    variance.locator("#variance-quantity").fill("-1")
    variance.locator("#variance-varianceReasonId").select_option("VAR_DAMAGED")
    variance.get_by_role("button", name="Log variance").click()
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert "This form has expired: reload the page" in page.locator("main").inner_text()
    assert page.url.endswith("/products/FG001")  # htmx swapped the page's main in place
