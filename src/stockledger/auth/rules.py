"""Who may do what: roles, the write policy by path, facility scope. Pure functions."""

from dataclasses import dataclass

ROLES = ("admin", "oms", "store", "viewer")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = ("/healthz", "/metrics", "/docs", "/openapi.json", "/redoc", "/ui/login", "/ui/static")

# Write paths by prefix, most specific first; admin may always write. A write path
# that matches no rule is admin-only, so a new endpoint is never open by accident.
WRITE_RULES: tuple[tuple[str, frozenset[str]], ...] = (
    ("/v1/reservations", frozenset({"oms"})),
    ("/v1/orders/", frozenset({"oms"})),
    ("/v1/shipments", frozenset({"oms"})),
    ("/v1/returns", frozenset({"oms"})),
    ("/v1/events", frozenset({"oms"})),
    ("/v1/receipts", frozenset({"store"})),
    ("/v1/physical-inventories", frozenset({"store"})),
    ("/v1/variances", frozenset({"store"})),
    ("/v1/pos-sales", frozenset({"store"})),
    ("/v1/inventory-increases", frozenset({"store"})),
)
# Writes both integrations need: findOrCreateFacilityInventoryItem, and rejecting an order
# item (the OMS rejects, and so does a store that cannot fulfil it).
SHARED_WRITES = (("/v1/facilities/", "/inventory-item"), ("/v1/orders/", "/reject"))


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a token's id, role, the facilities it may touch (None: all) and its user."""

    token_id: str
    role: str
    facilities: frozenset[str] | None = None
    user_login_id: str | None = None

    @property
    def login_id(self) -> str:
        """Who the rows it writes name (changeByUserLoginId): the token's user, by default its id."""
        return self.user_login_id or self.token_id

    def may_touch(self, facility_id: str) -> bool:
        return self.facilities is None or facility_id in self.facilities


def is_open(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPEN_PATHS)


def may_call(role: str, method: str, path: str) -> bool:
    """Whether `role` may call `method path` (facility scope is checked separately)."""
    if role == "admin" or method.upper() in READ_METHODS:
        return role in ROLES
    if any(path.startswith(head) and path.endswith(tail) for head, tail in SHARED_WRITES):
        return role in ("oms", "store")
    for prefix, roles in WRITE_RULES:
        if path.startswith(prefix):
            return role in roles
    return False
