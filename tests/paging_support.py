"""Reading a whole cursor-paged list (`{items, next}`) over HTTP, as an integrator does."""

from typing import Any

from fastapi.testclient import TestClient


def all_pages(
    client: TestClient, path: str, limit: int, headers: dict[str, str] | None = None, **query: str
) -> list[dict[str, Any]]:
    """Every item of the list at `path` (with `query`), `limit` a page, following `next` as
    `cursor` until it is null; each page must answer 200."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = query | {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = client.get(path, params=params, headers=headers)
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        if (cursor := page.json()["next"]) is None:
            return rows
