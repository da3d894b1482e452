"""Webhook events received once, and the watches they wake (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.clock import database_now
from bot.store.tables import UTCDateTime, watch_keys, watches, webhook_events


class WebhookRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def accept(
        self,
        event_id: str,
        code: str,
        *,
        customer_emails: Collection[str],
        keys: Collection[str],
        now: datetime,
        debounce: timedelta,
    ) -> list[int] | None:
        """Record the event and wake the watches it concerns, in one transaction.

        Returns the woken watch ids, or None when the event id was seen before (by any
        process). A woken watch is due at `now + debounce` unless it already waits for an
        earlier wake-up, so a burst of events for one customer causes one check, or unless a
        check it just had holds it back until later (`wake_at` set, `wake_latest` not: bursts
        are coalesced). `wake_latest` is the database's clock, the one checks are compared on.
        """
        due = sa.literal(now + debounce, UTCDateTime())
        held_back = watches.c.wake_latest.is_(None) & (watches.c.wake_at > due)
        async with self._engine.begin() as conn:
            received = await database_now(conn)
            inserted = await conn.execute(
                self._insert(webhook_events)
                .values(event_id=event_id, event=code, received_at=now)
                .on_conflict_do_nothing()
                .returning(webhook_events.c.event_id)
            )
            if inserted.first() is None:
                return None
            matches: list[sa.ColumnElement[bool]] = []
            if customer_emails:
                matches.append(watches.c.customer_email.in_(sorted(customer_emails)))
            if keys:
                by_key = sa.select(watch_keys.c.watch_id).where(watch_keys.c.key.in_(sorted(keys)))
                matches.append(watches.c.id.in_(by_key))
            if not matches:
                return []
            woken = await conn.execute(
                sa.update(watches)
                .where(watches.c.paused_reason.is_(None))
                .where(sa.or_(*matches))
                .values(
                    wake_at=sa.case(
                        (watches.c.wake_latest.is_not(None), watches.c.wake_at),
                        (held_back, watches.c.wake_at),
                        else_=due,
                    ),
                    wake_latest=sa.literal(received, UTCDateTime()),
                    woken_at=sa.func.coalesce(watches.c.woken_at, sa.literal(now, UTCDateTime())),
                )
                .returning(watches.c.id)
            )
            return sorted(woken.scalars())

    async def purge(self, *, older_than: timedelta, now: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.delete(webhook_events).where(webhook_events.c.received_at < now - older_than)
            )
            return int(result.rowcount)

    async def seen(self, event_id: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                sa.select(webhook_events.c.event_id).where(webhook_events.c.event_id == event_id)
            )
            return found is not None
