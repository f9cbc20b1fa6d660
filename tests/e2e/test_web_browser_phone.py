"""What an outside tester found in Chromium (issue 20 L7, L8, the favicon), checked in Chromium:
at 390 px every column of the stock, items and history tables is in view without sideways scroll
(each row a card of labelled values), the chart's time labels differ when all changes fall in one
minute and its text is readable on a phone, and the first page logs no console error."""

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_web_browser import Site, browser, serious_violations, sign_in, site

__all__ = ["browser", "site"]  # the module's fixtures: one server, one browser
PHONE = 390


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": PHONE, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def in_view(page: Any, selector: str) -> list[str]:
    """The cells matching `selector` that are not wholly on screen, or sit in a box that scrolls
    sideways (each as its text); none of them may be empty of boxes."""
    found: list[str] = page.evaluate(
        """([selector, width]) => {
            const cells = [...document.querySelectorAll(selector)];
            if (!cells.length) return ['no cell matches ' + selector];
            return cells.filter(cell => {
                const box = cell.getBoundingClientRect();
                const wrap = cell.closest('.table-wrap');
                const scrolls = wrap && wrap.scrollWidth > wrap.clientWidth;
                return box.width === 0 || box.left < 0 || box.right > width || scrolls;
            }).map(cell => selector + ': ' + cell.textContent.trim());
        }""",
        [selector, PHONE],
    )
    return found


def test_every_column_of_the_tables_is_in_view_on_a_phone(phone: Any, site: Site) -> None:
    sign_in(phone, site)
    phone.goto(f"{site.url}/ui/facilities/FACILITY_1")
    columns = ("qoh", "atp", "held", "reserved", "minimum", "computed")
    assert [bad for c in columns for bad in in_view(phone, f"table.stock [data-col={c}]")] == []
    label = phone.locator("tr[data-product-id=FG001] [data-col=minimum]").evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    assert label == '"Minimum stock"'  # each value says what it is
    phone.locator("thead a.sort", has_text="Computed count").click()  # the headings still sort
    phone.wait_for_url("**sort=computed**")
    assert serious_violations(phone) == []

    phone.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG001")
    for c in ("qoh", "atp", "status", "location", "expires"):
        assert in_view(phone, f"table.items [data-col={c}]") == []
    assert serious_violations(phone) == []

    phone.goto(f"{site.url}/ui/items/FG001-INV-001")
    for c in ("reason", "qoh-change", "qoh-after", "atp-change", "atp-after", "caused-by"):
        assert in_view(phone, f"table.history [data-col={c}]") == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE
    assert serious_violations(phone) == []


def _changes_within_a_minute(site: Site) -> str:
    """A new item with four ledger rows, 0.7 s apart (in one minute, unless it turns meanwhile)."""
    headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
    line = {"shipmentItemSeqId": "00001", "productId": "FG002", "quantityAccepted": 5, "lotId": "LOT-L7"}
    with httpx.Client(base_url=site.url, headers=headers) as api:
        received = api.post(
            "/v1/receipts", json={"shipmentId": "PO-L7", "facilityId": "FACILITY_1", "items": [line]}
        )
        assert received.status_code == 201, received.text
        item_id = str(received.json()["items"][0]["inventoryItemId"])
        for quantity in (-1, 2, -3):
            time.sleep(0.7)  # over two seconds in all, within one minute: labels need the seconds
            variance = {"inventoryItemId": item_id, "quantity": quantity, "varianceReasonId": "VAR_FOUND"}
            assert api.post("/v1/variances", json=variance).status_code == 200
    return item_id


def test_the_chart_labels_differ_and_read_on_a_phone(phone: Any, site: Site) -> None:
    item_id = _changes_within_a_minute(site)
    sign_in(phone, site, "viewer")
    phone.goto(f"{site.url}/ui/items/{item_id}")
    labels = phone.locator("figure.chart text.time:not(.mid)")  # the middle one: desktop only
    texts = labels.all_text_contents()
    assert len(texts) >= 2, texts
    every = phone.locator("figure.chart text.time").all_text_contents()
    assert len(set(every)) == len(every), every  # never the same time twice
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    assert all(box is not None and box["height"] >= 13 for box in boxes), boxes  # ~13 px text, not ~7
    for left, right in itertools.pairwise(boxes):
        assert left is not None
        assert right is not None
        assert left["x"] + left["width"] <= right["x"], texts  # side by side, not over each other
    assert all(box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE for box in boxes)


def test_the_first_page_logs_no_console_error(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: errors.append(f"failed {request.url}"))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.goto(f"{site.url}/ui/login")
    page.wait_for_load_state("networkidle")
    sign_in(page, site)
    page.wait_for_load_state("networkidle")
    favicon = page.request.get(f"{site.url}/favicon.ico")
    context.close()
    assert errors == []
    assert (favicon.status, favicon.headers["content-type"]) == (200, "image/svg+xml")
