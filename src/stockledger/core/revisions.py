"""The schema revision a database is at, and the one this code needs, read without Alembic.

The commands that do not migrate (reset, verify, token list...) only check that the database is
migrated: importing Alembic for that was a tenth of their start. The head is read from the
migration files' `revision` and `down_revision` lines (tests/unit/test_revisions.py: the same
head as Alembic's ScriptDirectory), the current revision from Alembic's version table.
"""

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"
_ASSIGNED = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """The database's schema revision (None: never migrated) and the one this code needs."""
    return current_revision(engine), head_revision()


def current_revision(engine: Engine) -> str | None:
    """What Alembic's version table holds (None: no table or no row)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(found) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds more than one revision: {sorted(found)}")
    return found[0] if found else None


@cache
def head_revision(versions: Path = VERSIONS) -> str:
    """The one revision of `versions` that no other names as its down_revision."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        assigned = {m[1]: m[2] for m in _ASSIGNED.finditer(path.read_text(encoding="utf-8"))}
        revisions.update(_QUOTED.findall(assigned.get("revision", "")))
        parents.update(_QUOTED.findall(assigned.get("down_revision", "")))
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise RuntimeError(f"the migrations in {versions} have {len(heads)} heads: {heads}")
    return heads[0]
