"""The stock page's links: sort by a column (again: the other way), the low-stock view, the pages."""

from dataclasses import dataclass
from urllib.parse import urlencode

from stockledger.core.pagination import encode_cursor
from stockledger.web.queries import StockQuery

# The columns in table order: (sort key, heading, what the heading's tooltip explains or None).
COLUMNS = (
    ("product", "Product", None),
    ("qoh", "QOH", "quantity on hand: every unit in the facility, whatever its status"),
    ("atp", "ATP", "available to promise: units a new reservation can take (available, not expired)"),
    ("held", "Not promisable", "on hand but not promisable: on hold, returned, defective, expired"),
    ("reserved", "Reserved", "units promised to orders and not yet shipped"),
    ("minimum", "Minimum stock", None),
    ("computed", "Computed count", "ATP − minimum stock: below zero means reorder"),
)


@dataclass(frozen=True, slots=True)
class StockLinks:
    facility_id: str
    query: StockQuery
    page: int = 1

    @property
    def base(self) -> str:
        return f"/ui/facilities/{self.facility_id}"

    def _url(self, sort: str, descending: bool, below_minimum: bool, **more: str) -> str:
        params: dict[str, str] = {}
        if self.query.search:
            params["q"] = self.query.search
        if sort != "product":
            params["sort"] = sort
        if descending:
            params["dir"] = "desc"
        if below_minimum:
            params["belowMinimum"] = "true"
        params.update(more)
        return f"{self.base}?{urlencode(params)}" if params else self.base

    def sorted_by(self, sort: str) -> str:
        """The heading's link: sort by this column, or the other way when it is the sort already."""
        again = sort == self.query.sort
        return self._url(sort, again and not self.query.descending, self.query.below_minimum)

    def aria_sort(self, sort: str) -> str | None:
        if sort != self.query.sort:
            return None
        return "descending" if self.query.descending else "ascending"

    def export(self) -> str:
        """The CSV of every row this view lists: its search, filter and sort (not its page)."""
        page = self._url(self.query.sort, self.query.descending, self.query.below_minimum)
        return page.replace(self.base, f"{self.base}/stock.csv", 1)

    def low_stock(self, on: bool) -> str:
        return self._url(self.query.sort, self.query.descending, on)

    def first_page(self) -> str:
        return self._url(self.query.sort, self.query.descending, self.query.below_minimum)

    def next_page(self, last_product_id: str | None) -> str:
        q = self.query
        if q.keyset and last_product_id is not None:
            return self._url(q.sort, q.descending, q.below_minimum, after=encode_cursor([last_product_id]))
        return self._url(q.sort, q.descending, q.below_minimum, page=str(self.page + 1))
