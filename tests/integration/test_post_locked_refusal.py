"""ledger.single.post_locked refused: on SQLite no statement after the guarded UPDATE that matched
nothing but the read that explains the refusal (core.statements.run_together stops there)."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock
from stockledger.events.models import OutboxEvent
from stockledger.events.outbox import event_inserts
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.post import Posting
from stockledger.ledger.single import post_locked

pytestmark = pytest.mark.posts_without_events

ITEM = ("FACILITY_1", "FG003-INV-001")  # 35 available to promise in the seed


@pytest.fixture
def statements(seeded: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def _count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(seeded.engine, "before_cursor_execute", _count)
    yield seen
    event.remove(seeded.engine, "before_cursor_execute", _count)


def test_a_refused_post_locked_sends_no_write_after_its_guard(
    seeded: Database, statements: list[str]
) -> None:
    too_much = Posting(*ITEM, "R", available_to_promise_diff=Decimal(-36), require_atp=True)
    with seeded.reading() as session:
        item = session.get(InventoryItem, ITEM)
        assert item is not None
        last = item.last_detail_seq
        details = session.scalar(select(func.count()).select_from(InventoryItemDetail))
        events = session.scalar(select(func.count()).select_from(OutboxEvent))
    with pytest.raises(InsufficientStock), seeded.transaction() as session:
        also = event_inserts(session, ITEM[0], "StockReserved", {"n": 1})
        statements.clear()
        post_locked(session, too_much, last, *also)
    heads = [sql.split(None, 3)[:3] for sql in statements]
    guard = next(n for n, head in enumerate(heads) if head[0] in ("UPDATE", "WITH"))
    after = [head[0] for head in heads[guard + 1 :]]
    assert after == ["SELECT"]  # only the refusal's read (then the rollback)
    if not seeded.is_postgres:
        assert heads[guard][:3] == ["UPDATE", "inventory_item", "SET"]
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(InventoryItemDetail)) == details
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == events
