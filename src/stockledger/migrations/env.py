"""Alembic environment: migrates the database stockledger.core.migrate hands it."""

from alembic import context
from sqlalchemy import Connection

# Importing the app imports every feature, so every table is on Base.metadata.
import stockledger.app
import stockledger.events.models  # noqa: F401
from stockledger.core.model_base import Base
from stockledger.ledger.views import product_facility_inventory_item


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and obj is product_facility_inventory_item)


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `stockledger migrate` (stockledger.core.migrate)")
run(connection)
