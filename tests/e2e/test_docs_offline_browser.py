"""/docs and /redoc in Chromium with every other host cut off: both render the API's operations
from the app's own files (FastAPI's defaults fetch Swagger UI and ReDoc from a CDN)."""

from typing import Any
from urllib.parse import urlsplit

from tests.e2e.test_web_browser import Site, browser, page, site  # noqa: F401  (fixtures)

OPERATIONS = 30  # the API has more; enough to know the spec was read and rendered


def _cut_off_other_hosts(tab: Any) -> list[str]:
    """Abort every request to a host other than the test server's; the list of those tried."""
    tried: list[str] = []

    def route(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort()

    tab.route("**/*", route)
    return tried


def test_swagger_ui_renders_every_operation_offline(page: Any, site: Site) -> None:  # noqa: F811
    tried = _cut_off_other_hosts(page)
    page.goto(f"{site.url}/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(paths) >= OPERATIONS
    assert any("/v1/reservations" in path for path in paths)
    assert tried == []


def test_redoc_renders_the_operations_offline(page: Any, site: Site) -> None:  # noqa: F811
    tried = _cut_off_other_hosts(page)
    page.goto(f"{site.url}/redoc")
    page.wait_for_selector("[data-section-id^='operation/']", state="attached")
    assert page.locator("[data-section-id^='operation/']").count() >= OPERATIONS
    assert tried == []
