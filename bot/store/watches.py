"""Watches, their leases, snapshots and the alert outbox (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.clock import database_now
from bot.store.tables import UTCDateTime, sent_alerts, watch_keys, watches

PENDING = "pending"
POSTING = "posting"  # chat.postMessage sent or about to be; outcome not yet known
SENT = "sent"
SUPPRESSED = "suppressed"
FAILED = "failed"
# Slack may or may not hold it (a timeout, a reset, a shutdown or crash mid-post): never
# posted again, so never posted twice.
UNCONFIRMED = "unconfirmed"
OUTBOX_STATUSES = (PENDING, POSTING, SENT, SUPPRESSED, FAILED, UNCONFIRMED)


@dataclass(frozen=True, slots=True)
class Watch:
    id: int
    product: str
    customer_email: str
    channel_id: str
    threshold_pct: int
    created_by: str
    created_at: datetime
    paused_reason: str | None
    snoozed_until: datetime | None
    last_checked_at: datetime | None
    last_outcome: str | None
    last_snapshot: Any
    snapshot_seq: int
    consecutive_failures: int
    failure_alerted: bool
    next_check_at: datetime | None
    wake_at: datetime | None = None
    wake_latest: datetime | None = None
    woken_at: datetime | None = None
    keys_digest: str | None = None

    def snoozed(self, now: datetime) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > now


@dataclass(frozen=True, slots=True)
class OutboxAlert:
    watch_id: int
    alert_key: str
    channel_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one poll of a watch stores, atomically, if the poller still holds the lease."""

    outcome: str  # "ok" or an error code
    snapshot: dict[str, Any] | None  # None keeps the stored snapshot (failed lookups)
    consecutive_failures: int
    failure_alerted: bool
    next_check_at: datetime
    alerts: Sequence[tuple[str, dict[str, Any]]]  # (kind, payload); keys are made here
    keys: frozenset[str] | None = None  # what webhooks match the watch by; None keeps them
    keys_digest: str | None = None  # of `keys`, when the caller already has it
    # Webhook wake-ups recorded (database clock) at or before this are answered by this
    # check; None answers none (a failed check, or an answer from an older request).
    answered_through: datetime | None = None
    # When the watch's wake-up is next due: a kept one is retried then (None: at once); after
    # an answered one, webhooks arriving before then wait for it (a burst is coalesced).
    wake_next: datetime | None = None


def keys_digest(keys: frozenset[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:32]


_KEY_ROWS_PER_INSERT = 1000


_WATCH_COLUMNS = [c for c in watches.c if c.name not in {"lease_owner", "lease_until"}]


def _watch(row: Any) -> Watch:
    return Watch(**{c.name: getattr(row, c.name) for c in _WATCH_COLUMNS})


class WatchRepository:
    def __init__(self, engine: AsyncEngine, reader: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reader
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # --- managing watches -------------------------------------------------------------

    async def add(
        self,
        *,
        product: str,
        customer_email: str,
        channel_id: str,
        threshold_pct: int,
        created_by: str,
        now: datetime,
    ) -> tuple[Watch, bool]:
        """Create the watch, or update the existing one (threshold, un-pause). True if new."""
        key = (
            (watches.c.product == product)
            & (watches.c.customer_email == customer_email.lower())
            & (watches.c.channel_id == channel_id)
        )
        async with self._engine.begin() as conn:
            existing = (await conn.execute(sa.select(watches.c.id).where(key))).scalar()
            if existing is None:
                await conn.execute(
                    sa.insert(watches).values(
                        product=product,
                        customer_email=customer_email.lower(),
                        channel_id=channel_id,
                        threshold_pct=threshold_pct,
                        created_by=created_by,
                        created_at=now,
                        next_check_at=now,
                    )
                )
            else:
                await conn.execute(
                    sa.update(watches)
                    .where(watches.c.id == existing)
                    .values(threshold_pct=threshold_pct, paused_reason=None, next_check_at=now)
                )
            row = (await conn.execute(sa.select(*_WATCH_COLUMNS).where(key))).one()
        return _watch(row), existing is None

    async def get(self, watch_id: int) -> Watch | None:
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(sa.select(*_WATCH_COLUMNS).where(watches.c.id == watch_id))
            ).one_or_none()
        return _watch(row) if row is not None else None

    async def all(self, channel_id: str | None = None) -> list[Watch]:
        query = sa.select(*_WATCH_COLUMNS).order_by(watches.c.id)
        if channel_id is not None:
            query = query.where(watches.c.channel_id == channel_id)
        async with self._reader.connect() as conn:
            return [_watch(row) for row in await conn.execute(query)]

    async def for_user(
        self, slack_user: str, channel_ids: Sequence[str] = (), *, limit: int = 100
    ) -> tuple[list[Watch], int]:
        """Watches `slack_user` made or in `channel_ids`, oldest first: (first `limit`, count)."""
        condition = watches.c.created_by == slack_user
        if channel_ids:
            condition = condition | watches.c.channel_id.in_(list(channel_ids))
        query = sa.select(*_WATCH_COLUMNS).where(condition).order_by(watches.c.id).limit(limit)
        count = sa.select(sa.func.count()).select_from(watches).where(condition)
        async with self._reader.connect() as conn:
            found = [_watch(row) for row in await conn.execute(query)]
            total = int(await conn.scalar(count) or 0)
        return found, total

    async def remove(self, watch_id: int) -> Watch | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.delete(watches).where(watches.c.id == watch_id).returning(*_WATCH_COLUMNS)
                )
            ).one_or_none()
        return _watch(row) if row is not None else None

    async def remove_by_email(self, customer_email: str, channel_id: str | None) -> list[Watch]:
        condition = watches.c.customer_email == customer_email.lower()
        if channel_id is not None:
            condition &= watches.c.channel_id == channel_id
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                sa.delete(watches).where(condition).returning(*_WATCH_COLUMNS)
            )
            return [_watch(row) for row in rows]

    async def snooze(self, watch_id: int, until: datetime) -> Watch | None:
        return await self._update(watch_id, snoozed_until=until)

    async def pause(self, watch_id: int, reason: str) -> Watch | None:
        return await self._update(watch_id, paused_reason=reason)

    async def _update(self, watch_id: int, **values: Any) -> Watch | None:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.update(watches)
                    .where(watches.c.id == watch_id)
                    .values(**values)
                    .returning(*_WATCH_COLUMNS)
                )
            ).one_or_none()
        return _watch(row) if row is not None else None

    # --- polling -------------------------------------------------------------------------

    async def claim_due(
        self, owner: str, *, now: datetime, lease: timedelta, limit: int
    ) -> list[Watch]:
        """Lease up to `limit` due, unpaused watches that nobody else holds.

        PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint sets.
        SQLite: the write transaction (BEGIN IMMEDIATE) serialises claimers.
        """
        due = (
            sa.select(watches.c.id)
            .where(watches.c.paused_reason.is_(None))
            .where(
                sa.or_(
                    watches.c.next_check_at.is_(None),
                    watches.c.next_check_at <= now,
                    # a wake_at without wake_latest only holds back the next wake-up
                    sa.and_(watches.c.wake_at <= now, watches.c.wake_latest.is_not(None)),
                )
            )
            .where(sa.or_(watches.c.lease_until.is_(None), watches.c.lease_until < now))
            # Watches a webhook woke go first: someone is waiting for that alert.
            .order_by(
                watches.c.wake_at.asc().nulls_last(),
                watches.c.next_check_at.asc().nulls_first(),
                watches.c.id,
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._engine.begin() as conn:
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return []
            rows = await conn.execute(
                sa.update(watches)
                .where(watches.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(*_WATCH_COLUMNS)
            )
            return sorted((_watch(row) for row in rows), key=lambda w: ids.index(w.id))

    async def save_check(
        self,
        watch: Watch,
        owner: str,
        result: CheckResult,
        *,
        now: datetime,
        suppress: bool,
        release: bool = False,
    ) -> bool:
        """Store the check and its alerts in one transaction; False if the lease was lost.

        Wake-ups recorded after `result.answered_through` stay, so the watch is checked again
        (the lookup may have run before that change).
        """
        held = watches.c.lease_owner == owner
        return await self._save(watch, result, held, now=now, suppress=suppress, release=release)

    async def save_baseline(self, watch: Watch, result: CheckResult, *, now: datetime) -> bool:
        """The first snapshot, taken by the watch command; False if a poll got there first."""
        free = sa.or_(watches.c.lease_until.is_(None), watches.c.lease_until < now)
        return await self._save(watch, result, free, now=now, suppress=False)

    async def _save(
        self,
        watch: Watch,
        result: CheckResult,
        condition: sa.ColumnElement[bool],
        *,
        now: datetime,
        suppress: bool,
        release: bool = False,
    ) -> bool:
        sequence = watch.snapshot_seq + 1
        answered: sa.ColumnElement[bool] = watches.c.wake_latest.is_(None)
        if result.answered_through is not None:
            through = sa.literal(result.answered_through, UTCDateTime())
            answered = sa.or_(answered, watches.c.wake_latest <= through)
        still_waiting = sa.case((answered, sa.null()), else_=watches.c.wake_latest)
        wake_next = sa.literal(result.wake_next, UTCDateTime()) if result.wake_next else sa.null()
        next_wake = sa.case(
            (answered, wake_next),
            else_=sa.func.coalesce(wake_next, watches.c.wake_latest),
        )
        values: dict[str, Any] = {
            "last_checked_at": now,
            "last_outcome": result.outcome,
            "snapshot_seq": sequence,
            "consecutive_failures": result.consecutive_failures,
            "failure_alerted": result.failure_alerted,
            "next_check_at": result.next_check_at,
            "wake_at": next_wake,
            "wake_latest": still_waiting,
            "woken_at": still_waiting,
        }
        if result.snapshot is not None:
            values["last_snapshot"] = result.snapshot
        if release:
            values["lease_owner"] = None
            values["lease_until"] = None
        digest = (
            (result.keys_digest or keys_digest(result.keys)) if result.keys is not None else None
        )
        if digest is not None:
            values["keys_digest"] = digest
        async with self._engine.begin() as conn:
            updated = await conn.execute(
                sa.update(watches)
                .where(watches.c.id == watch.id)
                .where(condition)
                .where(watches.c.snapshot_seq == watch.snapshot_seq)
                .values(**values)
            )
            if updated.rowcount != 1:
                return False
            if result.keys is not None and digest != watch.keys_digest:
                await self._replace_keys(conn, watch.id, result.keys)
            for kind, payload in result.alerts:
                await conn.execute(
                    self._insert(sent_alerts)
                    .values(
                        watch_id=watch.id,
                        alert_key=f"{sequence}:{kind}",
                        created_at=now,
                        channel_id=watch.channel_id,
                        status=SUPPRESSED if suppress else PENDING,
                        payload=payload,
                    )
                    .on_conflict_do_nothing()
                )
        return True

    @staticmethod
    async def _replace_keys(conn: AsyncConnection, watch_id: int, keys: frozenset[str]) -> None:
        await conn.execute(sa.delete(watch_keys).where(watch_keys.c.watch_id == watch_id))
        rows = [{"watch_id": watch_id, "key": key} for key in sorted(keys)]
        for start in range(0, len(rows), _KEY_ROWS_PER_INSERT):
            await conn.execute(sa.insert(watch_keys), rows[start : start + _KEY_ROWS_PER_INSERT])

    async def database_now(self) -> datetime:
        """The database's clock (see `bot.store.clock`)."""
        async with self._reader.connect() as conn:
            return await database_now(conn)

    async def release(self, watch_id: int, owner: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(watches)
                .where(watches.c.id == watch_id)
                .where(watches.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # --- the outbox ----------------------------------------------------------------------

    async def pending_alerts(self, watch_id: int) -> list[OutboxAlert]:
        query = (
            sa.select(
                sent_alerts.c.watch_id,
                sent_alerts.c.alert_key,
                sent_alerts.c.channel_id,
                sent_alerts.c.payload,
                sent_alerts.c.attempts,
            )
            .where(sent_alerts.c.watch_id == watch_id)
            .where(sent_alerts.c.status == PENDING)
            .order_by(sent_alerts.c.created_at, sent_alerts.c.alert_key)
        )
        async with self._reader.connect() as conn:
            return [OutboxAlert(*row) for row in await conn.execute(query)]

    async def start_posting(self, alert: OutboxAlert, owner: str, *, now: datetime) -> bool:
        """Record an attempt before it is made: pending -> posting, counted, only while `owner`
        holds the watch's lease. False: the lease is gone (or the alert is no longer pending)."""
        held = (
            sa.select(watches.c.id)
            .where(watches.c.id == alert.watch_id)
            .where(watches.c.lease_owner == owner)
            .where(watches.c.lease_until > now)
        )
        async with self._engine.begin() as conn:
            updated = await conn.execute(
                sa.update(sent_alerts)
                .where(sent_alerts.c.watch_id == alert.watch_id)
                .where(sent_alerts.c.alert_key == alert.alert_key)
                .where(sent_alerts.c.status == PENDING)
                .where(sent_alerts.c.watch_id.in_(held))
                .values(status=POSTING, attempts=sent_alerts.c.attempts + 1)
            )
            return bool(updated.rowcount == 1)

    async def finish_posting(
        self, alert: OutboxAlert, status: str, *, now: datetime, message_ts: str | None = None
    ) -> None:
        """posting -> sent, pending (retry), failed or unconfirmed."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(sent_alerts)
                .where(sent_alerts.c.watch_id == alert.watch_id)
                .where(sent_alerts.c.alert_key == alert.alert_key)
                .where(sent_alerts.c.status == POSTING)
                .values(
                    status=status,
                    sent_at=now if status == SENT else None,
                    message_ts=message_ts,
                )
            )

    async def abandoned_posts(self, watch_id: int) -> list[str]:
        """Attempts a previous holder of the lease started and never finished (it crashed or
        was killed mid-post): Slack may hold them, so they become unconfirmed. Their keys."""
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                sa.update(sent_alerts)
                .where(sent_alerts.c.watch_id == watch_id)
                .where(sent_alerts.c.status == POSTING)
                .values(status=UNCONFIRMED)
                .returning(sent_alerts.c.alert_key)
            )
            return sorted(rows.scalars())

    async def has_open_alerts(self, watch_id: int) -> bool:
        """Alerts still to post (pending), or attempts never finished (posting)."""
        query = (
            sa.select(sent_alerts.c.alert_key)
            .where(sent_alerts.c.watch_id == watch_id)
            .where(sent_alerts.c.status.in_([PENDING, POSTING]))
            .limit(1)
        )
        async with self._reader.connect() as conn:
            return (await conn.scalar(query)) is not None

    async def mark_alert(
        self,
        alert: OutboxAlert,
        status: str,
        *,
        now: datetime,
        message_ts: str | None = None,
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(sent_alerts)
                .where(sent_alerts.c.watch_id == alert.watch_id)
                .where(sent_alerts.c.alert_key == alert.alert_key)
                .values(
                    status=status,
                    attempts=sent_alerts.c.attempts + 1,
                    sent_at=now if status == SENT else None,
                    message_ts=message_ts,
                )
            )

    async def alerts_by_status(self, watch_id: int | None = None) -> dict[str, int]:
        query = sa.select(sent_alerts.c.status, sa.func.count()).group_by(sent_alerts.c.status)
        if watch_id is not None:
            query = query.where(sent_alerts.c.watch_id == watch_id)
        async with self._reader.connect() as conn:
            return {status: int(count) for status, count in await conn.execute(query)}
