"""What an upsert did to its rows (created, updated, unchanged) and the PostgreSQL clause that
says so: core.dialects.upsert_rows and core.bulk.upsert_copied fill an Upserted in; the seed
import (catalog/import_products.py) reports it."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result


@dataclass
class Upserted:
    """What an upsert did to its rows: `created`, `updated` (a column it sets held another value);
    the others were there as given, unchanged, and not written. Filled in as the answers come
    (sent behind: at the writes' settle)."""

    created: int = 0
    updated: int = 0

    def count_returned(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """The rows of `upsert_action`'s RETURNING: one per row written, true where created."""
        created = sum(1 for (new,) in rows if new)
        self.created += created
        self.updated += len(rows) - created

    def all_created(self, count: int) -> None:
        """`count` rows COPYed straight into their table (core.bulk): every one new."""
        self.created += count


def upsert_action(table: str, keys: Sequence[str], changes: Sequence[str]) -> str:
    """PostgreSQL: the ON CONFLICT clause of an upsert that writes a row only where it is new or a
    column of `changes` holds another value (an unchanged row is not written again: no new row
    version, no WAL), and RETURNING one row per row written, true where it was inserted (xmax is
    0 only in a row version no transaction has locked: a conflict's update locks it first)."""
    conflict = f"ON CONFLICT ({', '.join(keys)})"
    if not changes:
        return f"{conflict} DO NOTHING RETURNING true"
    current = ", ".join(f"{table}.{c}" for c in changes)
    given = ", ".join(f"EXCLUDED.{c}" for c in changes)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in changes)
    differs = f"({current}) IS DISTINCT FROM ({given})"
    return f"{conflict} DO UPDATE SET {sets} WHERE {differs} RETURNING (xmax = 0)"


def rowcount(result: Result[Any]) -> int:
    """The rows a DML statement (an executemany: all its runs) changed; an INSERT's only where
    it was run with execution_options(preserve_rowcount=True)."""
    return cast(CursorResult[Any], result).rowcount
