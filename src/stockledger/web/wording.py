"""Staff wording of the ledger's codes: reasons, item statuses, reservation fill modes.

One mapping for every template: a page shows the words, with the code itself as a tooltip
(`coded`), so people who talk to the API or read exports can still find it.
"""

from markupsafe import Markup, escape

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


def item_status(code: str, emptied_return: bool) -> Markup:
    """An item's status; a returned item with nothing left and no line waiting for inspection (its
    units were inspected and moved, or counted as gone) says so, not "not inspected"."""
    if code == "INV_RETURNED" and emptied_return:
        return coded_as(code, "Returned, nothing left to inspect")
    return coded(code)


def system_reasons(role: str) -> frozenset[str]:
    """The reasons a role may not pick by hand: store staff never the ERP sync's."""
    return SYSTEM_REASONS if role in STORE_ROLES else frozenset()


def reasons_for(role: str, codes: list[str]) -> list[str]:
    """The variance reasons a role may pick, in the order given."""
    hidden = system_reasons(role)
    return [c for c in codes if c not in hidden]
