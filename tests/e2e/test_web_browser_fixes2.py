"""What an outside tester found in the second round (issue 20 F1, F2, F5), checked in Chromium: a
form whose answer is a server error says so, chart labels fit the chart, long numbers never push
the page sideways."""

from typing import Any

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
