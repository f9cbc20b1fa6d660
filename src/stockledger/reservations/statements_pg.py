"""The lock of many products' items in one statement, in PostgreSQL's dialect (the ids as one
typed array, the row locks taken in ORDER BY order): reservations/statements.py sends it only
where core.dialects.binds_arrays says the database takes a list as one array parameter."""

from stockledger.reservations.rules import INV_AVAILABLE


def lock_products(columns: str) -> str:
    """SELECT `columns` of the INV_AVAILABLE items of facility :f and the products of the text
    array :p, locked in item id order."""
    return (
        f"SELECT {columns} FROM inventory_item "
        f"WHERE facility_id = :f AND product_id = ANY(:p::text[]) AND status_id = '{INV_AVAILABLE}' "
        "ORDER BY inventory_item_id FOR UPDATE"
    )
