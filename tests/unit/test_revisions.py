"""core.revisions reads the schema head from the migration files, without Alembic: it must name
the head Alembic itself finds, and refuse a tree of migrations with no single head."""

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from stockledger.core.migrate import alembic_config
from stockledger.core.revisions import current_revision, head_revision


def test_the_head_is_alembics() -> None:
    scripts = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    assert head_revision() == scripts.get_current_head()


def _migration(folder: Path, revision: str, down: str) -> None:
    (folder / f"{revision}.py").write_text(
        f'"""m"""\nrevision: str = "{revision}"\ndown_revision: str | tuple[str, ...] | None = {down}\n'
    )


def test_a_merge_revision_is_the_head(tmp_path: Path) -> None:
    _migration(tmp_path, "a1", "None")
    _migration(tmp_path, "b2", '"a1"')
    _migration(tmp_path, "c3", '"a1"')
    _migration(tmp_path, "d4", '("b2", "c3")')
    assert head_revision(tmp_path) == "d4"


def test_two_heads_are_refused(tmp_path: Path) -> None:
    _migration(tmp_path, "a1", "None")
    _migration(tmp_path, "b2", "'a1'")
    _migration(tmp_path, "c3", "'a1'")
    with pytest.raises(RuntimeError, match=r"2 heads: \['b2', 'c3'\]"):
        head_revision(tmp_path)


def test_a_database_never_migrated_has_no_revision() -> None:
    assert current_revision(create_engine("sqlite://")) is None
