"""What the retention job needs from the store: a lease on the job, and purges in batches.

Each purge deletes at most `limit` of the oldest rows past a cutoff in one short transaction,
so a purge of a year's backlog never holds the database's write lock for long; the caller
repeats it until a batch comes back short.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.tables import (
    audit_log,
    housekeeping,
    processed_events,
    sent_alerts,
    webhook_events,
)

PENDING = "pending"


class RetentionRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- the job's lease ------------------------------------------------------------------

    async def claim(
        self, job: str, owner: str, *, now: datetime, lease: timedelta, every: timedelta
    ) -> bool:
        """Take `job`'s lease if it is due (last run `every` ago or never) and not leased."""
        async with self._engine.begin() as conn:
            await conn.execute(_insert_ignore(conn.dialect.name, {"job": job}, housekeeping.c.job))
            claimed = await conn.execute(
                sa.update(housekeeping)
                .where(housekeeping.c.job == job)
                .where(
                    sa.or_(
                        housekeeping.c.last_run_at.is_(None),
                        housekeeping.c.last_run_at <= now - every,
                    )
                )
                .where(
                    sa.or_(
                        housekeeping.c.lease_until.is_(None),
                        housekeeping.c.lease_until < now,
                        housekeeping.c.lease_owner == owner,
                    )
                )
                .values(lease_owner=owner, lease_until=now + lease)
            )
            return bool(claimed.rowcount)

    async def renew(self, job: str, owner: str, *, now: datetime, lease: timedelta) -> bool:
        """Extend the lease this owner holds; False when it was lost (expired and taken)."""
        async with self._engine.begin() as conn:
            renewed = await conn.execute(
                sa.update(housekeeping)
                .where(housekeeping.c.job == job)
                .where(housekeeping.c.lease_owner == owner)
                .values(lease_until=now + lease)
            )
            return bool(renewed.rowcount)

    async def finish(self, job: str, owner: str, *, now: datetime) -> None:
        """Record the run and release the lease (if still held)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(housekeeping)
                .where(housekeeping.c.job == job)
                .where(housekeeping.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, last_run_at=now)
            )

    # --- purges, one batch each -------------------------------------------------------------

    async def purge_audit(self, before: datetime, limit: int) -> int:
        oldest = (
            sa.select(audit_log.c.id)
            .where(audit_log.c.at < before)
            .order_by(audit_log.c.at)
            .limit(limit)
        )
        return await self._delete(sa.delete(audit_log).where(audit_log.c.id.in_(oldest)))

    async def purge_alerts(self, before: datetime, limit: int) -> int:
        """Delivered, suppressed or failed alerts created before `before`; pending ones stay."""
        oldest = (
            sa.select(sent_alerts.c.watch_id, sent_alerts.c.alert_key)
            .where(sent_alerts.c.created_at < before)
            .where(sent_alerts.c.status != PENDING)
            .order_by(sent_alerts.c.created_at)
            .limit(limit)
        )
        key = sa.tuple_(sent_alerts.c.watch_id, sent_alerts.c.alert_key)
        return await self._delete(sa.delete(sent_alerts).where(key.in_(oldest)))

    async def purge_slack_events(self, before: datetime, limit: int) -> int:
        oldest = (
            sa.select(processed_events.c.event_id)
            .where(processed_events.c.received_at < before)
            .limit(limit)
        )
        return await self._delete(
            sa.delete(processed_events).where(processed_events.c.event_id.in_(oldest))
        )

    async def purge_webhook_events(self, before: datetime, limit: int) -> int:
        oldest = (
            sa.select(webhook_events.c.event_id)
            .where(webhook_events.c.received_at < before)
            .limit(limit)
        )
        return await self._delete(
            sa.delete(webhook_events).where(webhook_events.c.event_id.in_(oldest))
        )

    async def _delete(self, stmt: sa.Delete) -> int:
        async with self._engine.begin() as conn:
            return int((await conn.execute(stmt)).rowcount)


def _insert_ignore(dialect: str, values: dict[str, str], key: sa.Column[str]) -> sa.Insert:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(key.table).values(values).on_conflict_do_nothing()
