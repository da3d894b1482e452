"""The bot's persistent state: Slack event de-duplication and the audit log.

One `Store` per process; it owns an async SQLAlchemy engine on SQLite (aiosqlite) or
PostgreSQL (asyncpg). All datetimes going in must be timezone-aware and come out in UTC.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.database_url import async_database_url, redact_url
from bot.store.groupcommit import GroupCommit
from bot.store.migrations import SQLITE_READ_ONLY, configure_sqlite_engine
from bot.store.migrations import migrate as run_migrations
from bot.store.retention import RetentionRepository
from bot.store.tables import audit_log, processed_events
from bot.store.watches import WatchRepository
from bot.store.webhooks import WebhookRepository

log = structlog.get_logger("store")

PING_TIMEOUT: Final = 5.0

# PostgreSQL pool: a small bot process needs few connections, and hosted plans cap them.
_POSTGRES_ENGINE_OPTIONS: Final[dict[str, Any]] = {
    "pool_size": 5,
    "max_overflow": 5,
    "pool_timeout": 10,
    "pool_recycle": 1800,
    # asyncpg: connect timeout and per-statement timeout, in seconds.
    "connect_args": {"timeout": 10, "command_timeout": 30},
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    slack_user: str
    channel: str | None
    action: str
    product: str | None
    customer_email: str | None
    outcome: str
    reference: str | None
    detail: str | None = None


_AUDIT_FIELDS = tuple(field.name for field in dataclasses.fields(AuditEntry))
_AUDIT_INSERT = sa.insert(audit_log)


class Store:
    """Async access to the bot's tables; create with `await Store.open(url)`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Read-only work on SQLite starts with a deferred BEGIN instead of BEGIN IMMEDIATE.
        self._reader = engine.execution_options(**{SQLITE_READ_ONLY: True})
        self.dialect: str = engine.dialect.name
        self._closed = False
        self.watches = WatchRepository(engine, self._reader)
        self.webhooks = WebhookRepository(engine)
        self.retention = RetentionRepository(engine)
        self.ping_timeout: float = PING_TIMEOUT
        self._audit_writes: GroupCommit[AuditEntry, None] = GroupCommit(self._insert_audit)
        self._event_claims: GroupCommit[tuple[str, datetime], bool] = GroupCommit(
            self._insert_events
        )

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to DATABASE_URL `url` (any accepted form) and, by default, migrate."""
        async_url = async_database_url(url)
        if async_url.startswith("sqlite"):
            # No pre-ping: a local file does not drop connections, and the ping is one more
            # round trip to the driver's thread for every transaction.
            engine = create_async_engine(async_url)
            configure_sqlite_engine(engine)
        else:
            engine = create_async_engine(async_url, pool_pre_ping=True, **_POSTGRES_ENGINE_OPTIONS)
        store = cls(engine)
        if migrate:
            try:
                await run_migrations(engine)
            except BaseException:
                await engine.dispose()
                raise
        log.debug("store opened", url=redact_url(url), dialect=store.dialect)
        return store

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._engine.dispose()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")

    async def ping(self) -> bool:
        """True when the database answers `SELECT 1` within `ping_timeout` seconds."""
        if self._closed:
            return False
        try:
            async with asyncio.timeout(self.ping_timeout), self._reader.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("database ping failed", error=type(exc).__name__)
            return False
        return True

    # Slack event de-duplication

    async def claim_event(self, event_id: str, *, now: datetime | None = None) -> bool:
        """True only for the first claim of `event_id`, across tasks and processes.

        Concurrent claims share one INSERT (and transaction); each gets its own answer.
        """
        self._check_open()
        return await self._event_claims.add((event_id, now or _utc_now()))

    async def _insert_events(self, claims: Sequence[tuple[str, datetime]]) -> list[bool]:
        rows = [{"event_id": event_id, "received_at": at} for event_id, at in claims]
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(processed_events)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(processed_events.c.event_id)
        )
        async with self._engine.begin() as conn:
            inserted = set((await conn.execute(stmt)).scalars())
        # The same id twice in one batch (a retry racing its original): only the first wins.
        answers = []
        for event_id, _ in claims:
            answers.append(event_id in inserted)
            inserted.discard(event_id)
        return answers

    async def purge_events(
        self, older_than: timedelta = timedelta(hours=1), *, now: datetime | None = None
    ) -> int:
        """Forget events received more than `older_than` ago; returns how many went."""
        self._check_open()
        cutoff = (now or _utc_now()) - older_than
        stmt = sa.delete(processed_events).where(processed_events.c.received_at < cutoff)
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
            return int(result.rowcount)

    async def count_events(self) -> int:
        self._check_open()
        async with self._reader.connect() as conn:
            found = await conn.scalar(sa.select(sa.func.count()).select_from(processed_events))
            return int(found or 0)

    # Audit log

    async def record_audit(self, entry: AuditEntry) -> None:
        """Store `entry`; concurrent calls share one transaction (returns once committed)."""
        self._check_open()
        await self._audit_writes.add(entry)

    async def _insert_audit(self, entries: Sequence[AuditEntry]) -> list[None]:
        rows = [{name: getattr(entry, name) for name in _AUDIT_FIELDS} for entry in entries]
        async with self._engine.begin() as conn:
            await conn.execute(_AUDIT_INSERT, rows)
        return [None] * len(entries)

    async def audit_entries(
        self, *, since: datetime | None = None, limit: int = 10_000
    ) -> list[AuditEntry]:
        """Entries at or after `since`, oldest first, at most `limit` of them."""
        self._check_open()
        stmt = sa.select(*(audit_log.c[name] for name in _AUDIT_FIELDS))
        if since is not None:
            stmt = stmt.where(audit_log.c.at >= since)
        stmt = stmt.order_by(audit_log.c.at, audit_log.c.id).limit(limit)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AuditEntry(**row._mapping) for row in rows]

    async def recent_audit(
        self, slack_user: str, *, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """`slack_user`'s latest entries (only `action`'s when given), newest first."""
        self._check_open()
        stmt = sa.select(*(audit_log.c[name] for name in _AUDIT_FIELDS)).where(
            audit_log.c.slack_user == slack_user
        )
        if action is not None:
            stmt = stmt.where(audit_log.c.action == action)
        stmt = stmt.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AuditEntry(**row._mapping) for row in rows]
