"""stockledger: an append-only inventory ledger for omnichannel retail and warehouses."""

__version__ = "0.1.0"
