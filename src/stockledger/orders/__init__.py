"""Order items: the one product each belongs to (SPEC §11)."""
