"""Schema creation and upgrades, safe when several processes start at the same time.

PostgreSQL: the whole migration runs in one transaction holding a transaction-scoped
advisory lock, so concurrent migrators queue and the later ones find the work done.
SQLite: the engine is set up (see `configure_sqlite_engine`) so that SQLAlchemy emits the
BEGIN itself and DDL is transactional; writers use `BEGIN IMMEDIATE`, which takes the
database's write lock up front and waits for it up to `busy_timeout`, so a second process
migrating the same file waits for the first and then finds the schema in place.

To change the schema: edit `tables.py`, then append a step to `STEPS` with the next version
number that upgrades an existing database (ALTER TABLE and the like; new tables need no
code, `create_all` adds them, but still need a step so the version moves on). A fresh
database gets the current tables straight from `metadata` and is stamped with the latest
version, so steps never run on it.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from bot.store.tables import audit_log, metadata, schema_version

log = structlog.get_logger("store.migrations")

# Arbitrary, fixed key for pg_advisory_xact_lock ("LUBOT" + schema), a signed 64-bit integer.
ADVISORY_LOCK_KEY: Final = 0x4C55_424F_5453_4348

SQLITE_BUSY_TIMEOUT_MS: Final = 5000

# Execution option that makes a SQLite transaction start with a plain (deferred) BEGIN,
# for read-only work; every other transaction starts with BEGIN IMMEDIATE.
SQLITE_READ_ONLY: Final = "bot_store_read_only"

Step = Callable[[Connection], None]

_configured: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _baseline(conn: Connection) -> None:
    """Version 1: processed_events, audit_log, watches, sent_alerts (created by create_all)."""


def _audit_by_user(conn: Connection) -> None:
    """Version 2: audit_log (slack_user, at), for the App Home's recent lookups."""
    for index in audit_log.indexes:
        if [column.name for column in index.columns] == ["slack_user", "at"]:
            index.create(conn, checkfirst=True)


def _webhooks(conn: Connection) -> None:
    """Version 3: webhook wake-ups and key digests on watches; watch_keys, webhook_events,
    rate_buckets and rate_bucket_clients (new tables come from create_all)."""
    # Idempotent: a database whose tables create_all made at a later version has them already.
    present = {column["name"] for column in sa.inspect(conn).get_columns("watches")}
    for column, kind in (
        ("wake_at", "TIMESTAMP WITH TIME ZONE"),
        ("wake_latest", "TIMESTAMP WITH TIME ZONE"),
        ("woken_at", "TIMESTAMP WITH TIME ZONE"),
        ("keys_digest", "TEXT"),
    ):
        if column in present:
            continue
        sql_type = "DATETIME" if conn.dialect.name == "sqlite" and kind != "TEXT" else kind
        conn.execute(sa.text(f"ALTER TABLE watches ADD COLUMN {column} {sql_type}"))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_watches_wake_at ON watches (wake_at)"))


def _both_version_2s(conn: Connection) -> None:
    """Version 4: two branches once both numbered their step 2 (the audit index, the webhook
    columns). A database stamped 2 by the webhook one never got the audit index, since
    version 2 counted as done; one stamped by the other got the webhook columns at step 3.
    Both steps are idempotent, so both run again and every database ends with everything."""
    _audit_by_user(conn)
    _webhooks(conn)


def _housekeeping(conn: Connection) -> None:
    """Version 5: the housekeeping table (retention purges; created by create_all)."""


# (version, upgrade) in ascending order; the last version is the schema's current one.
STEPS: Final[list[tuple[int, Step]]] = [
    (1, _baseline),
    (2, _audit_by_user),
    (3, _webhooks),
    (4, _both_version_2s),
    (5, _housekeeping),
]
SCHEMA_VERSION: Final = STEPS[-1][0]


def configure_sqlite_engine(engine: AsyncEngine) -> None:
    """Pragmas on every new connection, and SQLAlchemy-controlled (transactional) BEGINs.

    This is SQLAlchemy's documented recipe for pysqlite/aiosqlite before Python 3.12: turn
    off the driver's own BEGIN handling (`isolation_level = None`) and emit BEGIN from the
    `begin` event, so DDL and SELECTs take part in transactions too.
    """
    sync_engine = engine.sync_engine
    if sync_engine.dialect.name != "sqlite" or sync_engine in _configured:
        return
    _configured.add(sync_engine)

    @sa.event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock, and so may wait.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(SQLITE_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _switch_to_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode = WAL`, retried while another process holds the lock.

    SQLite does not always apply busy_timeout to this pragma: when several processes open a
    new database at once, one switches it and the others may get "database is locked" at once.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def current_version(conn: Connection) -> int | None:
    """The recorded schema version, or None for a database this bot has never migrated."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return None
    found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar_one_or_none()
    return int(found) if found is not None else None


def _migrate_sync(conn: Connection, steps: Sequence[tuple[int, Step]]) -> None:
    latest = steps[-1][0]
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    found = current_version(conn)
    if found is None:
        metadata.create_all(conn, checkfirst=True)
        conn.execute(sa.insert(schema_version).values(version=latest))
        log.info("schema created", version=latest)
        return
    if found >= latest:
        if found > latest:
            log.warning("schema is newer than this code", found=found, known=latest)
        return
    for version, step in steps:
        if version > found:
            step(conn)
            conn.execute(sa.insert(schema_version).values(version=version))
    metadata.create_all(conn, checkfirst=True)
    log.info("schema upgraded", version=latest, previous=found)


async def migrate(engine: AsyncEngine, *, steps: Sequence[tuple[int, Step]] = STEPS) -> None:
    """Create or upgrade the schema in one transaction; a no-op when it is up to date.

    On SQLite the engine needs `configure_sqlite_engine` (as `Store.open` does) so that the
    transaction starts with BEGIN IMMEDIATE; an engine without it gets it here. `steps`
    is for tests of the upgrade path.
    """
    if not steps or [v for v, _ in steps] != sorted({v for v, _ in steps}):
        raise ValueError("migration steps must be non-empty with strictly increasing versions")
    if engine.dialect.name == "sqlite" and engine.sync_engine not in _configured:
        configure_sqlite_engine(engine)
        await engine.dispose()  # pooled connections were opened without the pragmas
    async with engine.begin() as conn:
        await conn.run_sync(_migrate_sync, steps)
