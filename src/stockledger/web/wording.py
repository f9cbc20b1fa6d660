"""Staff wording of the ledger's codes: reasons, item statuses, reservation fill modes.

One mapping for every template: a page shows the words, with the code itself as a tooltip
(`coded`), so people who talk to the API or read exports can still find it.
"""

from datetime import datetime

from markupsafe import Markup, escape

from stockledger.core.model_base import as_utc, utcnow

REASONS = {
    "RECEIPT": "Received",
    "INV_RECEIPT": "Received",
    "RESERVATION": "Reserved for an order",
    "RESERVATION_RELEASE": "Reservation released",
    "RESERVATION_MOVED": "Reservation moved",
    "ITEM_ISSUANCE": "Shipped",
    "INV_INCREASE": "Stock added",
    "INV_IMPORT": "Initial stock (import)",
    "INV_IMPORT_ADJ": "Import correction",
    "RETURN_RECEIVED": "Return received",
    "RETURN_RESTOCKED": "Return put back on sale",
    "REJ_REJECTED": "Order item rejected",
    "VAR_LOST": "Lost",
    "VAR_STOLEN": "Stolen",
    "VAR_FOUND": "Found",
    "VAR_DAMAGED": "Damaged",
    "VAR_INTEGR": "Count correction",
    "VAR_SAMPLE": "Sample (giveaway)",
    "VAR_MISSHIP_ORDERED": "Mis-shipped: ordered item (+)",
    "VAR_MISSHIP_SHIPPED": "Mis-shipped: shipped item (−)",
    "VAR_EXT_RESET": "ERP stock sync",
}
STATUSES = {
    "INV_AVAILABLE": "Available",
    "INV_ON_HOLD": "On hold",
    "INV_RETURNED": "Returned, not inspected",
    "INV_DEFECTIVE": "Defective",
    "RES_ACTIVE": "Active",
    "RES_CANCELLED": "Cancelled",
    "RES_FULFILLED": "Shipped",
}
WORDS = {**REASONS, **STATUSES}
# Reasons only the ERP sync writes: a store logging a variance by hand must not pick them.
SYSTEM_REASONS = frozenset({"VAR_EXT_RESET"})
STORE_ROLES = frozenset({"store"})


def named(code: str | None) -> str:
    """The staff wording of a code; an unknown code in plain words ("SOME_CODE" → "Some code")."""
    if not code:
        return ""
    return WORDS.get(code) or code.replace("_", " ").capitalize()


def coded(code: str | None) -> Markup:
    """The wording with the code as its tooltip, for a template."""
    if not code:
        return Markup("")
    return Markup('<span class="coded" title="{}">{}</span>').format(escape(code), named(code))


def coded_as(code: str, words: str) -> Markup:
    """Words of the page's own choosing, with the code as their tooltip."""
    return Markup('<span class="coded" title="{}">{}</span>').format(escape(code), words)


def status_words(status_id: str | None, expire_date: datetime | None, now: datetime | None = None) -> str:
    """The words of item_status, for a select's option, where no markup goes."""
    expired = expire_date is not None and as_utc(expire_date) <= (now or utcnow())
    return "Expired" if status_id == "INV_AVAILABLE" and expired else named(status_id)


def item_status(
    status_id: str | None,
    expire_date: datetime | None,
    now: datetime | None = None,
    emptied_return: bool = False,
) -> Markup:
    """An item's status as staff read it: a sellable item whose lot has expired is "Expired", not
    "Available" (expired stock is not promisable, SPEC §11), with its status code as the tooltip;
    a returned item with nothing left and no return line waiting on it (its units were inspected
    and moved, or counted as gone) says so, not "not inspected"."""
    if status_id == "INV_RETURNED" and emptied_return:
        return coded_as(status_id, "Returned, nothing left to inspect")
    if status_id == "INV_AVAILABLE" and status_words(status_id, expire_date, now) == "Expired":
        return Markup('<span class="coded expired" title="{}">Expired</span>').format(escape(status_id))
    return coded(status_id)


def system_reasons(role: str) -> frozenset[str]:
    """The reasons a role may not pick by hand: store staff never the ERP sync's."""
    return SYSTEM_REASONS if role in STORE_ROLES else frozenset()


def reasons_for(role: str, codes: list[str]) -> list[str]:
    """The variance reasons a role may pick, in the order given."""
    hidden = system_reasons(role)
    return [c for c in codes if c not in hidden]
