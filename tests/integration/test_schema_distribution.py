"""The live PostgreSQL schema is ready to be distributed by facility (SPEC §9, Citus).

Every table is either a small reference table (listed here, on purpose) or distributed by
facility_id: then facility_id is in its primary key and in every unique key, and each
foreign key to another distributed table carries facility_id on both sides.
"""

import pytest
from sqlalchemy import inspect

from stockledger.core import citus
from stockledger.core.db import Database

REFERENCE_TABLES = {*citus.REFERENCE_TABLES, *citus.COORDINATOR_TABLES}  # the one list: core/citus.py


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_every_growing_table_is_keyed_by_facility(db: Database) -> None:
    schema = inspect(db.engine)
    tables = set(schema.get_table_names())
    distributed = tables - REFERENCE_TABLES
    assert {"inventory_item", "inventory_item_detail", "order_item_inventory_reservation"} <= distributed
    problems = []
    for table in sorted(distributed):
        pk = schema.get_pk_constraint(table)["constrained_columns"]
        if "facility_id" not in pk:
            problems.append(f"{table}: primary key {pk} lacks facility_id")
        for unique in schema.get_unique_constraints(table):
            if "facility_id" not in unique["column_names"]:
                problems.append(f"{table}: unique {unique['column_names']} lacks facility_id")
        for index in schema.get_indexes(table):
            if index["unique"] and "facility_id" not in index["column_names"]:
                problems.append(f"{table}: unique index {index['column_names']} lacks facility_id")
        for fk in schema.get_foreign_keys(table):
            if fk["referred_table"] in distributed and not (
                "facility_id" in fk["constrained_columns"] and "facility_id" in fk["referred_columns"]
            ):
                problems.append(f"{table}: foreign key to {fk['referred_table']} without facility_id")
    assert problems == []
