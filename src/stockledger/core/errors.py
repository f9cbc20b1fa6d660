"""One error base class; every error leaves as RFC 9457 application/problem+json."""

from collections.abc import Mapping, Sequence
from typing import Any

PROBLEM_JSON = "application/problem+json"
MAX_LISTED_ERRORS = 50  # a refusal stays small however broken the input: the first errors, and a count
MAX_ECHO = 200  # at most this much of the client's input is quoted back in a detail


def clipped(text: str, limit: int = MAX_ECHO) -> str:
    """`text` as quoted in a detail: its first `limit` characters, and "…" when there was more."""
    return text if len(text) <= limit else text[:limit] + "…"


class AppError(Exception):
    """A refusal the client can act on. Subclasses fix the HTTP status and stable code."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.code, self.title, self.detail, instance, **self.extra)


def problem(
    status: int, code: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://stockledger.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def listed_errors(errors: Sequence[Mapping[str, Any]], count: int | None = None) -> dict[str, Any]:
    """`errors`: the first MAX_LISTED_ERRORS (loc, msg, type); `errorCount`: how many in all."""
    shown = [
        {
            "loc": [
                clipped(p) if isinstance(p, str) else p for p in e.get("loc", ())
            ],  # keys the client sent
            "msg": clipped(str(e.get("msg", ""))),
            "type": str(e.get("type", "")),
        }
        for e in errors[:MAX_LISTED_ERRORS]
    ]
    return {"errors": shown, "errorCount": len(errors) if count is None else count}


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "Validation failed"


class QuantityOverflow(AppError):
    """Totals past what the database can add (SQLite's 64-bit integers), or an item's total past
    MAX_ITEM_TOTAL: not retryable, the same request fails the same way."""

    status, code, title = 422, "quantity_overflow", "Quantity overflow"


TOTAL_OVERFLOW = "A total would pass 9.2×10^12 units, more than the ledger holds for one item"
SQLITE_OVERFLOW = (
    "Totals past 9.2×10^12 units per product and facility exceed what SQLite can add; use PostgreSQL"
)


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class InsufficientStock(AppError):
    status, code, title = 409, "insufficient_stock", "Insufficient stock"


class NegativeStock(AppError):
    """A change that would take an item's quantity on hand below zero, not explicitly allowed."""

    status, code, title = 409, "negative_stock", "Quantity on hand would go below zero"


class OrderItemConflict(AppError):
    """An order item named with another product than the one it belongs to (SPEC §11)."""

    status, code, title = 409, "order_item_conflict", "Order item conflict"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"
