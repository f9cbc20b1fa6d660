"""Citus: after the migrations, distribute every table by facility or replicate it to every node.

`stockledger migrate` calls `distribute` once the schema is up to date. It does something only
on a Citus coordinator that has workers (the citus extension and an active worker in
pg_dist_node); on plain PostgreSQL and SQLite the migrations alone are the schema.

Every table is declared here, in one of three lists, and a table in none of them stops the
step (a test checks every migrated table is classified): a new table must be placed on purpose.

The order that works: Citus refuses a foreign key from a table it does not manage (or from a
reference table) to a distributed table, and a distributed table whose foreign key points at a
table that is not yet distributed or reference. So the foreign keys touching the tables still to
be placed are dropped first, the tables are placed (reference tables, then `inventory_item`, then
every other table co-located with it), and each foreign key is put back where Citus keeps it:
reference -> reference, distributed -> reference, and distributed -> distributed when both sides
carry facility_id at the same position. That is every foreign key of the schema. Idempotent:
tables already in pg_dist_partition are left as they are.
"""

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, exc, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
ANCHOR = "inventory_item"  # every distributed table is co-located with it
DISTRIBUTION_COLUMN = "facility_id"

REFERENCE_TABLES = (
    "facility",
    "product",
    "inventory_item_type",
    "variance_reason",
    "api_token",
    "sequence_value",
    "external_inventory_reset",  # one audit row per ERP run, which may span facilities
    "deployment_identity",  # one row: the id the publisher stamps on its messages
)
DISTRIBUTED_TABLES = (
    ANCHOR,
    "facility_location",
    "product_facility",
    "product_facility_location",
    "inventory_item_detail",
    "item_issuance",
    "physical_inventory",
    "inventory_item_variance",
    "order_item",
    "order_item_inventory_reservation",
    "order_item_ship_group",
    "shipment",
    "shipment_item",
    "shipment_route_segment",
    "shipment_receipt",
    "return_header",
    "return_item",
    "cost_layer",
    "outbox_event",
    "idempotency_key",
    "processed_message",
    "publisher_position",
    "external_inventory_reset_failure",  # by the run's facility, `_ALL` for a run spanning facilities
)
COORDINATOR_TABLES = ("alembic_version",)  # migrations' bookkeeping, read by `migrate` alone


class UnclassifiedTable(RuntimeError):
    """A table is in none of the lists above: decide where it lives before it reaches Citus."""


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    definition: str  # pg_get_constraintdef: FOREIGN KEY (…) REFERENCES other(…)
    referred: str
    columns: tuple[str, ...]
    referred_columns: tuple[str, ...]


def has_workers(conn: Connection) -> bool:
    """A Citus coordinator with at least one active worker."""
    if conn.dialect.name != "postgresql":
        return False
    if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).first() is None:
        return False
    return int(conn.execute(text(_WORKERS)).scalar_one()) > 0


def distributes(engine: Engine) -> bool:
    """Whether `engine`'s database is a Citus coordinator with workers."""
    with engine.connect() as conn:
        return has_workers(conn)


def shards_by_facility(on: Session | Engine | Connection) -> bool:
    """Whether the database (of a session, an engine or a connection) is a Citus coordinator with
    workers (`has_workers`), asked once per engine (a dictionary look-up after that). Writers that
    have a single-server fast path check it to write a change in statements that each stay on
    the facility's shard (ledger/sole_item_steps_pg.py; core.db.Database.runs_alone).
    Asked on the connection a session or a connection already holds, where there is one: on a
    connection of its own, the first requests of a new `serve` on a small pool each held one and
    waited for another (4 imports on STOCKLEDGER_DB_POOL_SIZE=2: 30 s, then 503 database_busy)."""
    engine = (on.get_bind() if isinstance(on, Session) else on).engine
    known = _SHARDED.get(engine)
    if known is None:
        if engine.dialect.name != "postgresql":
            known = False
        elif isinstance(on, Engine):
            known = _asks_workers(engine)
        else:
            held = on.connection() if isinstance(on, Session) else on
            known = _asks_on(engine, held.connection.dbapi_connection)
        _SHARDED[engine] = known
    return known


def _asks_workers(engine: Engine) -> bool:
    """`has_workers` on a pooled driver connection: the probe fires none of the engine's events
    (which count statements: metrics, tests). Driver errors as SQLAlchemy's (a server down: 503)."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        driver = engine.raw_connection()
    except dbapi_error as error:
        raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error
    try:
        return _asks_on(engine, driver.dbapi_connection)
    finally:
        driver.close()  # back to the pool, rolled back


def _asks_on(engine: Engine, driver: Any) -> bool:
    """`has_workers` on a driver connection (its events unfired), inside whatever transaction it
    is in (two reads of the catalogue). Driver errors as SQLAlchemy's."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        cursor = driver.cursor()
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        if cursor.fetchone() is None:
            return False
        cursor.execute(_WORKERS)
        row = cursor.fetchone()
        return row is not None and int(row[0]) > 0
    except dbapi_error as error:
        raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error


_WORKERS = "SELECT count(*) FROM pg_dist_node WHERE isactive AND noderole = 'primary' AND groupid <> 0"
# Per engine, weakly: an entry goes with its engine (tests make one per test database).
_SHARDED: "weakref.WeakKeyDictionary[Engine, bool]" = weakref.WeakKeyDictionary()


def distribute(engine: Engine) -> list[str]:
    """Place every table not yet placed (see the module's docstring); the tables placed, in order."""
    with engine.begin() as conn:
        if not has_workers(conn):
            return []
        return _distribute(conn)


def _distribute(conn: Connection) -> list[str]:
    pending = _pending(conn)
    if not pending:
        return []
    conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
    keys = [fk for fk in foreign_keys(conn) if fk.table in pending or fk.referred in pending]
    for fk in keys:
        conn.execute(text(f'ALTER TABLE "{fk.table}" DROP CONSTRAINT "{fk.name}"'))
    for table in pending:
        conn.execute(text(_placement(table)), {"t": table, "anchor": ANCHOR, "column": DISTRIBUTION_COLUMN})
    for table in pending:  # rows written before (migration 0001's reference rows) are in the shards now
        conn.execute(text("SELECT truncate_local_data_after_distributing_table(:t)"), {"t": table})
    for fk in keys:
        if citus_keeps(fk):
            conn.execute(text(f'ALTER TABLE "{fk.table}" ADD CONSTRAINT "{fk.name}" {fk.definition}'))
        else:
            log.warning("Citus cannot keep %s.%s: %s; dropped", fk.table, fk.name, fk.definition)
    return pending


def _pending(conn: Connection) -> list[str]:
    """The tables still to place, in the order that works; every table must be declared."""
    tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    unclassified = sorted(tables - {*REFERENCE_TABLES, *DISTRIBUTED_TABLES, *COORDINATOR_TABLES})
    if unclassified:
        raise UnclassifiedTable(f"declare these tables in stockledger.core.citus: {unclassified}")
    return [t for t in (*REFERENCE_TABLES, *DISTRIBUTED_TABLES) if t in tables - placed_tables(conn)]


def _placement(table: str) -> str:
    if table in REFERENCE_TABLES:
        return "SELECT create_reference_table(:t)"
    if table == ANCHOR:
        return "SELECT create_distributed_table(:t, :column)"
    return "SELECT create_distributed_table(:t, :column, colocate_with => :anchor)"


def citus_keeps(fk: ForeignKey) -> bool:
    """Whether Citus accepts this foreign key once both tables are placed."""
    if fk.referred in REFERENCE_TABLES:
        return fk.table in REFERENCE_TABLES or fk.table in DISTRIBUTED_TABLES
    if fk.table in DISTRIBUTED_TABLES and fk.referred in DISTRIBUTED_TABLES:
        key = DISTRIBUTION_COLUMN
        return key in fk.columns and fk.columns.index(key) == fk.referred_columns.index(key)
    return False


def placed_tables(conn: Connection) -> set[str]:
    """Tables Citus already distributes or replicates (not its 'local' tables)."""
    rows = conn.execute(
        text(
            "SELECT logicalrelid::regclass::text FROM pg_dist_partition "
            "WHERE partmethod = 'h' OR repmodel = 't'"
        )
    )
    return set(rows.scalars())


_FOREIGN_KEYS = text(
    """
    SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.confrelid::regclass::text,
           ARRAY(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
           ARRAY(SELECT attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE c.contype = 'f' AND n.nspname = 'public'
    ORDER BY 1, 2
    """
)


def foreign_keys(conn: Connection) -> list[ForeignKey]:
    """Every foreign key of the public schema, with its definition and columns."""
    return [
        ForeignKey(table, name, definition, referred, tuple(cols), tuple(ref_cols))
        for table, name, definition, referred, cols, ref_cols in conn.execute(_FOREIGN_KEYS)
    ]
