"""The sample documents of seeds 001 and 002, shipped as they stand, for `stockledger demo`."""

import json
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from stockledger.catalog.import_stock import Tick
from stockledger.catalog.importer import ALONE, Alongside, ImportOutcome, Parsed, import_parsed
from stockledger.core.dialects import inserts_counted, rows_added_since


def seed_documents() -> list[tuple[str, Any]]:
    """(file name, parsed JSON) in load order: locations, products, items, physical inventory."""
    folder = resources.files("stockledger.catalog") / "seed_data"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return [(f.name, json.loads(f.read_text(encoding="utf-8"))) for f in files]


def load_parsed(
    session: Session, parsed: Parsed, tick: Tick, alongside: Alongside = ALONE
) -> tuple[ImportOutcome, dict[str, int]]:
    """Import one document `parse_document` validated already (catalog/cli.py validates every
    document before it writes any) in the caller's transaction (an upsert: safe to repeat),
    `tick`ed per record, `alongside` others (importer.Alongside); also the rows it added per
    table (PostgreSQL: core.dialects.inserts_counted), for ANALYZE once the load is done
    (catalog/cli.py `load_documents`)."""
    before = inserts_counted(session)
    outcome = import_parsed(session, parsed, tick, alongside)
    return outcome, rows_added_since(session, before)
