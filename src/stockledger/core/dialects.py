"""SQL that differs between SQLite and PostgreSQL, behind one call each, so features never branch
on the database: upserts, id lists, row locks, lock waits, sequences, bulk rows from arrays, plan
settings, statistics after bulk work; and what a feature may ask of the database, by what it
does, never by its name (`writes_through_ctes`, `binds_arrays`, `serialises_writers`;
`Database.runs_alone` in core/db.py). (Sequence numbers in commit order: core/fence.py.)"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from threading import Thread
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, any_, bindparam, event, or_, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.orm import InstrumentedAttribute, Session, SessionTransaction
from sqlalchemy.pool import QueuePool

from stockledger.core.citus import shards_by_facility
from stockledger.core.config import at_import
from stockledger.core.sqlclock import UTC_NOW_SQL
from stockledger.core.statements import (
    STATEMENT_CACHE_SIZE,
    BindTarget,
    Statement,
    dialect_of,
    is_postgres,
    run,
    table_binders,
)
from stockledger.core.upserts import Upserted, rowcount, upsert_action
from stockledger.core.write_behind import WriteBehind

log = logging.getLogger("stockledger.db")

# The database's clock (core.sqlclock.utc_now) in SQL written by hand for a statement whose
# writes are data-modifying CTEs: only a database that `writes_through_ctes` runs one.
UTC_NOW_IN_CTE_STATEMENTS = UTC_NOW_SQL["postgresql"]
# The same for SQL written by hand where the database `serialises_writers` (the set-based reset's
# SQLite statements, resets/line_sql_sqlite.py).
UTC_NOW_IN_SERIALISED_STATEMENTS = UTC_NOW_SQL["sqlite"]


def writes_through_ctes(on: BindTarget) -> bool:
    """Whether several writes can be ONE statement of data-modifying CTEs (`WITH a AS (UPDATE …
    RETURNING …), b AS (INSERT …) …`), committed or refused as one: PostgreSQL. SQLite runs the
    same writes one after the other (core.statements.run_together). `on`: a Session, or an
    Engine where no transaction is open yet (the ledger's sole-item reservation asks first)."""
    return dialect_of(on).name == "postgresql"


def stages_set_based(session: Session) -> bool:
    """Whether bulk work (the ERP reset) can stream its lines into a temporary table (COPY, or
    executemany: core.bulk.copy_rows) and be judged, diffed and posted set-based in one
    transaction: PostgreSQL without Citus workers (core.citus.shards_by_facility; on Citus the
    line batches serve the distributed tables), and SQLite, whose SQL for it is its own: where
    the database `serialises_writers`, the set-based path takes no row lock (`*_sqlite.py`)."""
    return not shards_by_facility(session)


def binds_arrays(session: Session) -> bool:
    """Whether a list of values travels as ONE array parameter (`unnest`, `= ANY`), so that a
    batch of rows or ids is one statement of constant text (`from_arrays`, `array_literal`):
    PostgreSQL, which then also takes a statement's row locks in its ORDER BY order. SQLite:
    executemany and IN lists, under the write lock its transaction holds from BEGIN."""
    return is_postgres(session)


def serialises_writers(session: Session) -> bool:
    """Whether the database lets one writing transaction run at a time, so that what it reads
    cannot change before it commits and a read needs no row lock: SQLite (its transactions
    take the write lock at BEGIN, core.db). PostgreSQL: a writer locks the rows it relies on."""
    return not is_postgres(session)


def waits_on_a_lock(session: Session, backend: int) -> bool:
    """Whether PostgreSQL backend process `backend` waits on a lock another one holds (read in
    the session's transaction; SQLite has no such processes: False)."""
    if not is_postgres(session):
        return False
    found = session.execute(text("SELECT cardinality(pg_blocking_pids(:pid)) > 0"), {"pid": backend})
    return bool(found.scalar())


def upsert_updating(
    session: Session, table: Table, keys: tuple[str, ...], set_of: Callable[[Any], dict[str, Any]]
) -> Any:
    """`INSERT … ON CONFLICT (keys) DO UPDATE SET set_of(excluded)` for the session's database,
    built once per database kind, table, keys and `set_of` (building `.excluded` on every call
    cost ≈ 0.3 ms); executed with a list of rows it is one executemany."""
    return _upsert_updating(session.get_bind().dialect.name, table, keys, set_of)


@lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _upsert_updating(
    kind: str, table: Table, keys: tuple[str, ...], set_of: Callable[[Any], dict[str, Any]]
) -> Any:
    stmt = pg_insert(table) if kind == "postgresql" else _sqlite_insert(table)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_of(stmt.excluded))


def _sqlite_insert(table: Any) -> Any:
    # SQLAlchemy's SQLite dialect (and its aiosqlite driver, ≈ 6 ms to import) only when a SQLite
    # statement is built: `stockledger reset` on PostgreSQL never loads it.
    from sqlalchemy.dialects.sqlite import insert

    return insert(table)


def upsert(engine_or_session: Engine | Session, table: Any) -> Any:
    """INSERT … with the dialect's ON CONFLICT support (both dialects share its API)."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    if bind.dialect.name == "postgresql":
        return pg_insert(table)
    return _sqlite_insert(table)


def one_of(
    session: Session, column: ColumnElement[Any] | InstrumentedAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN (values)`. PostgreSQL: `column = ANY(:array)`, one parameter whatever the count,
    so the statement's text is constant (psycopg parses it once, where an IN of 10,000
    placeholders is parsed afresh each time) and the planner still uses the index. SQLite: IN
    (the caller keeps `values` under its bind-parameter limit)."""
    if is_postgres(session):
        # a list, not array_literal: SQLAlchemy types that parameter VARCHAR, and a cast of it to
        # an array is evaluated per row (a 1,000,000-line reset stalled in such a scan)
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    # one expanding parameter, not a bound parameter per value: building and coercing 5,000 of
    # them per statement cost ≈ 10 µs a line of a 100,000-line reset (profiled)
    return column.in_(bindparam(None, list(values), expanding=True))


def plan_each_statement(session: Session) -> None:
    """PostgreSQL: plan every statement of this transaction for its own parameters
    (plan_cache_mode = force_custom_plan). For a bulk load that fills its tables as it goes: a
    prepared statement's generic plan, chosen while a table was nearly empty (a sequential
    scan), would stay in use as it grows (measured: a 200,000-line initial reset spent 0.5 s
    growing to 2.4 s per batch in one such SELECT). SQLite: nothing to do."""
    if is_postgres(session):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def next_value_expression(
    session: Session, name: str, function: str = "nextval"
) -> tuple[str, dict[str, int]]:
    """SQL for the next value of sequence `name`, to put inside a statement: `function` (nextval,
    or a function of the same signature) on PostgreSQL; on SQLite the counter row is moved now
    and the value is a parameter."""
    if is_postgres(session):
        return f"{function}('{name}')", {}
    return _sqlite_next_value(session, name)


def _sqlite_next_value(session: Session, name: str) -> tuple[str, dict[str, int]]:
    rows = run(session, Statement(_SQLITE_NEXT, {"n": name}))
    if not rows:
        run(
            session,
            Statement("INSERT INTO sequence_value (sequence_name, last_value) VALUES (:n, 1)", {"n": name}),
        )
        return ":next_value", {"next_value": 1}
    return ":next_value", {"next_value": int(rows[0][0])}


_SQLITE_NEXT = (
    "UPDATE sequence_value SET last_value = last_value + 1 WHERE sequence_name = :n RETURNING last_value"
)


class LockWaitExceeded(Exception):
    """A statement waited longer than `lock_wait_at_most` allows for a row lock (PostgreSQL)."""


@contextmanager
def lock_wait_at_most(session: Session, seconds: float) -> Iterator[None]:
    """Within the block, a statement waits at most `seconds` for a row lock and then raises
    LockWaitExceeded (the transaction is then aborted: roll it back). The wait is bound, in whole
    milliseconds, at least 1 (0 would be no limit). SQLite: the write transaction holds the database
    lock already (BEGIN IMMEDIATE), nothing to wait for."""
    if not is_postgres(session):
        yield
        return
    millis = max(1, round(seconds * 1000))
    session.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": str(millis)})
    try:
        yield
    except OperationalError as exc:
        if "lock timeout" in str(exc.orig):
            raise LockWaitExceeded(str(exc.orig)) from exc
        raise
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def locking(session: Session, select_sql: str, order_by: str) -> str:
    """`select_sql` taking row locks in `order_by` order: ORDER BY … FOR UPDATE on PostgreSQL.
    SQLite: as it is, since the write transaction (BEGIN IMMEDIATE) holds the database lock
    already (and an ORDER BY on the primary key there made the planner scan the whole table)."""
    return f"{select_sql} ORDER BY {order_by} FOR UPDATE" if is_postgres(session) else select_sql


def from_arrays(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: `rows` (all with the same keys, Python values) as ONE query, to follow
    `INSERT INTO table (keys…)`: `SELECT a.col, :k_col::type, … FROM unnest(:a_col::type[], …)`,
    one array per column whose values differ between rows and one parameter per column whose
    value is the same in all (the columns' bind processors applied). A handful of parameters
    however many rows: the statement compiles and plans once, where executemany sends a
    statement per row (and each array costs psycopg ≈ 2.5 µs a value to send).
    """
    dialect = session.get_bind().dialect
    binders = table_binders(dialect, table)
    selected: list[str] = []
    arrays: list[str] = []  # the unnest arguments
    varying: list[str] = []  # and their column names
    params: dict[str, Any] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        f = binders[name]
        first = values[0]
        sql_type = table.c[name].type.compile(dialect)
        if values.count(first) == len(values):
            selected.append(f":k_{name}::{sql_type}")
            params[f"k_{name}"] = first if f is None or first is None else f(first)
        else:
            selected.append(f"a.{name}")
            arrays.append(f":a_{name}::{sql_type}[]")
            varying.append(name)
            params[f"a_{name}"] = array_literal(
                values if f is None else [v if v is None else f(v) for v in values]
            )
    if not arrays:  # one distinct row, as many times as given
        source = f"generate_series(1, {len(rows)}) AS a (n)"
    else:
        source = f"unnest({', '.join(arrays)}) AS a ({', '.join(varying)})"
    return f"SELECT {', '.join(selected)} FROM {source}", params


def upsert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    writes: WriteBehind | None = None,
    insert_only: Sequence[str] = (),
    upserted: Upserted | None = None,
) -> None:
    """`rows` (all with the same columns, each key once) INSERTed, or their other columns but
    `insert_only` UPDATEd where the key exists and one of them differs (nothing is left to update:
    DO NOTHING); what it did counted into `upserted`. PostgreSQL: one statement from arrays
    (`from_arrays`) however many rows, sent through `writes` when given (its answer awaited at
    their settle); SQLite: an executemany of INSERT … DO NOTHING (its rowcount: the rows
    created), then, when some were there already, one of the upsert (its rowcount: the rows
    updated: a row just created holds what it is given)."""
    if not rows:
        return
    upserted = upserted if upserted is not None else Upserted()
    columns = list(rows[0])
    changes = [c for c in columns if c not in keys and c not in insert_only]
    if is_postgres(session):
        select_rows, params = from_arrays(session, table, rows)
        into = f"INSERT INTO {table.name} ({', '.join(columns)})"
        statement = Statement(f"{into} {select_rows} {upsert_action(table.name, keys, changes)}", params)
        if writes is None:
            upserted.count_returned(run(session, statement))
        else:
            writes.send(statement, upserted.count_returned)
        return
    stmt = _sqlite_insert(table).execution_options(preserve_rowcount=True)  # an INSERT's: kept
    created = rowcount(session.execute(stmt.on_conflict_do_nothing(index_elements=keys), list(rows)))
    upserted.created += created
    if not changes or created == len(rows):
        return
    excluded = stmt.excluded
    differs = or_(*(table.c[c].is_distinct_from(excluded[c]) for c in changes))
    update = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: excluded[c] for c in changes}, where=differs
    )
    upserted.updated += rowcount(session.execute(update, list(rows)))


def array_literal(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of `values` (str, int, None, or anything whose str() the
    column's type parses, such as a datetime), to send as one text parameter cast to the
    array's type (`:p::text[]`). psycopg sends a list value by value, with a regular
    expression per string (≈ 2.5 µs a value); this is one join."""
    kinds = set(map(type, values))
    if kinds == {str}:
        joined = '","'.join(values)
        if "\\" not in joined and joined.count('"') == 2 * (len(values) - 1):  # nothing to escape
            return '{"' + joined + '"}'
        escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + '","'.join(escaped) + '"}'
    if kinds == {int}:
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


# A table is analysed after bulk work that added at least GROWN_ROWS rows to it, once it has
# grown by GROWN_SHARE since its last ANALYZE: its heap (pg_relation_size) has at least
# 1 + GROWN_SHARE times the pages that ANALYZE counted (pg_class.relpages: the planner scales the
# rows it knew by the same ratio), or it was never analysed (no pages counted). The growth of
# every run since then counts, not only this one's. Settings, read as the module is imported.
GROWN_ROWS: int = at_import("analyze_grown_rows")
GROWN_SHARE: float = at_import("analyze_grown_share")
_PENDING = "stockledger.rows_added"  # session.info key: rows this transaction added, per table
_COMMITTED = "stockledger.rows_committed"  # …once it committed, until its connection is handed back

_ROWS_ADDED = (
    "SELECT format('%I.%I', schemaname, relname), n_tup_ins FROM pg_stat_xact_user_tables WHERE n_tup_ins > 0"
)
_PAGES = (  # per table named: the pages its last ANALYZE (or VACUUM) counted, the pages it has now
    "SELECT format('%I.%I', n.nspname, c.relname), c.relpages,"
    " pg_relation_size(c.oid) / current_setting('block_size')::int FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND format('%I.%I', n.nspname, c.relname) = ANY(:names)"
)


def inserts_counted(session: Session) -> dict[str, int]:
    """PostgreSQL: the rows inserted per table (quoted schema.table) as this connection's server
    process counts them so far (pg_stat_xact_user_tables): the current transaction's, plus
    those of earlier transactions on the connection not yet reported (PostgreSQL 15 reports
    at most once a second). Only a difference of two readings in one transaction is its own:
    `rows_added_since`. SQLite: none (its planner keeps no statistics until ANALYZE, and
    none is run for it)."""
    if not is_postgres(session):
        return {}
    return {name: int(count) for name, count in session.execute(text(_ROWS_ADDED))}


def rows_added_since(session: Session, before: Mapping[str, int]) -> dict[str, int]:
    """The rows this transaction inserted per table since `before` (inserts_counted, read
    earlier in the same transaction)."""
    now = inserts_counted(session)
    return {name: count - before.get(name, 0) for name, count in now.items() if count > before.get(name, 0)}


def analyze_after_commit(session: Session, before: Mapping[str, int]) -> None:
    """After bulk work: once this session's transaction commits, ANALYZE each table it grew
    substantially since `before` (inserts_counted at the start of the work; `analyze_grown`),
    so the plans made next see the rows it added, not the statistics of a table ten times
    smaller. Run after the commit, on a connection of its own: ANALYZE inside the transaction
    would hold its lock (one ANALYZE of a table at a time) until the commit, and count rows
    a rollback then removes. A rollback analyses nothing."""
    if not is_postgres(session):
        return
    added = dict(session.info.get(_PENDING) or {})
    for name, count in rows_added_since(session, before).items():
        added[name] = added.get(name, 0) + count
    if not event.contains(session, "after_commit", _committed):
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _forget_pending)
        event.listen(session, "after_transaction_end", _analyze_committed)
    session.info[_PENDING] = added


def _committed(session: Session) -> None:
    """The rows the committed transaction added, analysed once it has handed its connection
    back (`_analyze_committed`): analysed here, on connections of their own, the session's
    still held, a pool of one connection (and its overflow of one) waited 30 s for one and the
    import, committed, answered 503 database_busy "nothing was changed" (an outside tester)."""
    added = session.info.pop(_PENDING, None)
    if added:
        session.info[_COMMITTED] = added


def _analyze_committed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint or a subtransaction ended: not the commit
        return
    added = session.info.pop(_COMMITTED, None)
    if added:
        bind = session.get_bind()
        analyze_grown(bind if isinstance(bind, Engine) else bind.engine, added)


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def analyze_grown(engine: Engine, added: Mapping[str, int]) -> list[str]:
    """ANALYZE (PostgreSQL, in autocommit) each table of `added` (rows added, by quoted
    schema.table) it added ≥ GROWN_ROWS rows to and that has grown substantially since its
    last ANALYZE (`grown_since_analyzed`); the tables analysed. A table ANALYZE left at 10,000
    rows is not analysed again by imports of 1,000 rows until it holds 15,000 (GROWN_SHARE
    0.5): 10 imports of 10,000 products ANALYZE 5 or 6 times, not 10 (the later ones, of the
    biggest tables, cost the most). SKIP_LOCKED: a table another ANALYZE (or autovacuum)
    holds is being analysed already. Best effort: the work is committed, so a failure here is
    logged, never raised (autovacuum analyses the tables in time). SQLite: nothing."""
    if engine.dialect.name != "postgresql" or not any(n >= GROWN_ROWS for n in added.values()):
        return []
    try:
        return _analyze(engine, added)
    except DBAPIError as exc:
        log.warning("ANALYZE after bulk work failed (autovacuum will do it): %s", type(exc.orig).__name__)
    except SQLAlchemyTimeout:  # no connection came free (busy pool): the work stays committed
        log.warning("ANALYZE after bulk work skipped, no database connection free (autovacuum will do it)")
    return []


def _analyze(engine: Engine, added: Mapping[str, int]) -> list[str]:
    many = sorted(name for name, count in added.items() if count >= GROWN_ROWS)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        pages = conn.execute(text(_PAGES), {"names": many})
        grown = sorted(name for name, counted, now in pages if grown_since_analyzed(counted, now))
        if grown:
            _analyze_at_once(engine, conn, grown)
    return grown


def grown_since_analyzed(counted: int, now: int) -> bool:
    """Whether a table of `now` pages (its heap) whose last ANALYZE (or VACUUM) counted
    `counted` (pg_class.relpages; 0: never analysed, or empty then) grew by GROWN_SHARE since."""
    return counted <= 0 or now >= (1 + GROWN_SHARE) * counted


def _analyze_at_once(engine: Engine, conn: Connection, tables: list[str]) -> None:
    """Each table analysed on a connection of its own, all at once (the first on `conn`): the
    server samples and sorts each on a CPU of its own, and the caller (a POST /v1/import's
    answer, a load's end) waits for the longest, not for the sum (3 tables of 20,000 rows:
    70-95 ms one after the other, 52-72 ms at once, on the shared 2-CPU machine). As many
    at once as the pool has connections to spare without waiting; the rest on `conn`, one
    after the other (a pool of one connection and its overflow: all on `conn`)."""
    failed: list[BaseException] = []
    spare = _spare_connections(engine)
    tables, alone = tables[: 1 + spare], tables[1 + spare :]

    def analyze(table: str) -> None:
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
                own.execute(text(f"ANALYZE (SKIP_LOCKED) {table}"))
        except BaseException as exc:  # raised in the caller's thread
            failed.append(exc)

    others = [Thread(target=analyze, args=(table,), name="stockledger-analyze") for table in tables[1:]]
    for other in others:
        other.start()
    try:
        for table in [tables[0], *alone]:
            conn.execute(text(f"ANALYZE (SKIP_LOCKED) {table}"))
    finally:
        for other in others:
            other.join()
    if failed:
        raise failed[0]


def _spare_connections(engine: Engine) -> int:
    """How many more connections the engine's pool may open now without waiting for one (a
    QueuePool: its size and overflow less those checked out); other pools: as many as asked."""
    pool = engine.pool
    if not isinstance(pool, QueuePool) or pool._max_overflow < 0:  # no limit
        return 1_000
    return max(0, pool.size() + pool._max_overflow - pool.checkedout())
