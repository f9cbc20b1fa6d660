"""What an outside tester found in the second round (issue 20 F1, F2, F5), checked in Chromium: a
form whose answer is a server error says so, chart labels fit the chart, long numbers never push
the page sideways."""

import re
from typing import Any

import httpx
import pytest

from tests.e2e.test_web_browser import Site, browser, page, sign_in, site

__all__ = ["browser", "page", "site"]  # the module's fixtures: one server, one browser


def test_a_server_error_on_a_form_is_never_silent(page: Any, site: Site) -> None:
    sign_in(page, site, "store")
    page.goto(f"{site.url}/ui/facilities/FACILITY_1/products/FG002")
    failing = "**/products/FG002/count"
    page.route(failing, lambda route: route.fulfill(status=500, body="Internal Server Error"))
    page.get_by_label("Quantity counted").fill("2")
    page.get_by_role("button", name="Record count").click()
    alert = page.locator("form [data-request-error]")
    alert.wait_for()
    assert alert.get_attribute("role") == "alert"
    assert alert.inner_text() == (
        "The server could not finish this (error 500). Reload the page to see what was saved, then try "
        "again; if it happens again, tell your administrator."
    )
    page.unroute(failing)
    page.get_by_role("button", name="Record count").click()  # sent again: the count is recorded
    page.locator('p.notice[role="status"]').wait_for()
    assert "2 counted" in page.locator('p.notice[role="status"]').inner_text()
    assert page.locator("form [data-request-error]:visible").count() == 0


def _received(site: Site, shipment: str, quantity: str) -> str:
    """A new item of FG002 received with `quantity` units: its history has one row."""
    headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
    line = {
        "shipmentItemSeqId": "00001",
        "productId": "FG002",
        "quantityAccepted": float(quantity),
        "lotId": shipment,
    }
    with httpx.Client(base_url=site.url, headers=headers) as api:
        sent = {"shipmentId": shipment, "facilityId": "FACILITY_1", "items": [line]}
        received = api.post("/v1/receipts", json=sent)
        assert received.status_code == 201, received.text
        return str(received.json()["items"][0]["inventoryItemId"])


def _labels_outside(page: Any) -> list[str]:
    """The chart's y labels not wholly inside the chart's box."""
    found: list[str] = page.evaluate(
        """() => {
            const svg = document.querySelector('figure.chart svg').getBoundingClientRect();
            return [...document.querySelectorAll('figure.chart text.axis:not(.time)')]
                .filter(t => { const b = t.getBoundingClientRect();
                               return b.width === 0 || b.left < svg.left || b.right > svg.right; })
                .map(t => t.textContent);
        }"""
    )
    return found


@pytest.mark.parametrize("width", [390, 1280])
def test_the_chart_y_labels_fit_the_chart(browser: Any, site: Site, width: int) -> None:
    items = {"16.2k": _received(site, f"PO-F2-{width}-A", "16200")}
    items["1.24k"] = _received(site, f"PO-F2-{width}-B", "1242.290263")
    context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 600)
    page = context.new_page()
    sign_in(page, site, "viewer")
    for top, item_id in items.items():
        page.goto(f"{site.url}/ui/items/{item_id}")
        labels = page.locator("figure.chart text.axis:not(.time)").all_text_contents()
        assert labels[-1] == top, labels
        assert _labels_outside(page) == [], (width, labels)
    context.close()


HUGE = "999999999.999999"  # the most one line may receive; eleven of them: 10,999,999,999.999989


def _huge_item(site: Site) -> str:
    """FG003 received eleven times the most a line may bring, into one lot: an item, and a product
    total, of 10,999,999,999.999989 units."""
    headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
    lines = [
        {
            "shipmentItemSeqId": f"{n:05}",
            "productId": "FG003",
            "quantityAccepted": float(HUGE),
            "lotId": "LOT-F5",
        }
        for n in range(1, 12)
    ]
    with httpx.Client(base_url=site.url, headers=headers) as api:
        received = api.post(
            "/v1/receipts", json={"shipmentId": "PO-F5", "facilityId": "FACILITY_1", "items": lines}
        )
        assert received.status_code == 201, received.text
        item_ids = {i["inventoryItemId"] for i in received.json()["items"]}
        assert len(item_ids) == 1, item_ids
        return str(item_ids.pop())


def _overflows(page: Any) -> list[str]:
    """What sticks out sideways: the page itself, a table's box, a number tile."""
    found: list[str] = page.evaluate(
        """() => {
            const out = [];
            const width = document.documentElement.clientWidth;
            if (document.documentElement.scrollWidth > width)
                out.push('page ' + document.documentElement.scrollWidth + ' > ' + width);
            for (const wrap of document.querySelectorAll('.table-wrap'))
                if (wrap.scrollWidth > wrap.clientWidth)
                    out.push('table ' + wrap.scrollWidth + ' > ' + wrap.clientWidth);
            for (const dd of document.querySelectorAll('dl.numbers dd')) {
                const box = dd.getBoundingClientRect();
                if (dd.scrollWidth > dd.clientWidth || box.right > width)
                    out.push('tile ' + dd.textContent + ' ' + dd.scrollWidth + ' > ' + dd.clientWidth);
            }
            return out;
        }"""
    )
    return found


def test_many_digit_quantities_never_scroll_sideways(browser: Any, site: Site) -> None:
    item_id = _huge_item(site)
    for width in (390, 1024, 1280):
        context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 600)
        page = context.new_page()
        sign_in(page, site, "viewer")
        for path in (
            "/ui/facilities/FACILITY_1",
            "/ui/facilities/FACILITY_1/products/FG003",
            f"/ui/items/{item_id}",
        ):
            page.goto(f"{site.url}{path}")
            assert re.search(r"\d{2},\d{3},\d{3},\d{3}\.\d{6}", page.content()), path  # 11 billion and some
            assert _overflows(page) == [], (width, path)
        context.close()
