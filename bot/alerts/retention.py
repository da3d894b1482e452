"""Retention: the worker deletes what the bot no longer needs, in small batches, hourly.

What goes, and when (the settings in the README's configuration table):
- audit log rows older than AUDIT_RETENTION_DAYS (they hold customer e-mails);
- alert outbox rows (their payloads) older than ALERT_HISTORY_DAYS, once delivered, suppressed
  or failed; a pending alert is never deleted;
- Slack event ids and LicenseSpring webhook ids older than three days (the web process
  forgets them sooner; this is the backstop when it sees no traffic).

One worker at a time runs it, under a lease like a poll's: the job is claimed in the store
(due once an hour across every worker), the lease is renewed between batches, and a worker
that lost it stops. Each run logs what it removed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from bot.config import Settings
from bot.store import Store

log = structlog.get_logger("retention")

JOB = "retention"
EVERY = timedelta(hours=1)
LEASE = timedelta(minutes=5)
BATCH = 500
EVENT_IDS_KEPT = timedelta(days=3)
CHECK_EVERY_S = 300.0  # how often an idle worker looks whether the job is due

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetentionPolicy:
    audit: timedelta
    alerts: timedelta
    event_ids: timedelta = EVENT_IDS_KEPT

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            audit=timedelta(days=settings.audit_retention_days),
            alerts=timedelta(days=settings.alert_history_days),
        )


class Retention:
    def __init__(
        self,
        store: Store,
        policy: RetentionPolicy,
        owner: str,
        *,
        batch: int = BATCH,
        clock: Clock = _utc_now,
    ) -> None:
        self.store = store
        self.policy = policy
        self.owner = owner
        self.batch = batch
        self._clock = clock

    async def run_once(self) -> dict[str, int] | None:
        """Purge if due and no other worker is at it: rows removed per table, else None."""
        now = self._clock()
        if not await self.store.retention.claim(JOB, self.owner, now=now, lease=LEASE, every=EVERY):
            return None
        removed = await self.purge(now)
        await self.store.retention.finish(JOB, self.owner, now=self._clock())
        log.info(
            "retention_purged",
            owner=self.owner,
            audit_days=self.policy.audit.days,
            alert_days=self.policy.alerts.days,
            **removed,
        )
        return removed

    async def purge(self, now: datetime) -> dict[str, int]:
        """Rows past their retention at `now`, batch by batch, while this worker holds the
        lease (renewed between batches); rows removed per table."""
        repo = self.store.retention
        purges: dict[str, tuple[Callable[[datetime, int], Awaitable[int]], timedelta]] = {
            "audit_log": (repo.purge_audit, self.policy.audit),
            "sent_alerts": (repo.purge_alerts, self.policy.alerts),
            "processed_events": (repo.purge_slack_events, self.policy.event_ids),
            "webhook_events": (repo.purge_webhook_events, self.policy.event_ids),
        }
        removed = dict.fromkeys(purges, 0)
        for table, (purge, kept) in purges.items():
            while True:
                count = await purge(now - kept, self.batch)
                removed[table] += count
                if count < self.batch:
                    break
                if not await repo.renew(JOB, self.owner, now=self._clock(), lease=LEASE):
                    log.warning("retention_lease_lost", owner=self.owner, **removed)
                    return removed
                await asyncio.sleep(0)  # let the loop serve others between batches
        return removed

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Try every few minutes until `stop`; the store decides when a run is due."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as error:  # noqa: BLE001 - housekeeping; the next try retries
                log.warning("retention_failed", error_type=type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=CHECK_EVERY_S)
