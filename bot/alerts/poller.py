"""The alert poller: check every due watch, store what changed, post each alert once.

Exactly once, across restarts and several workers:
- a watch is checked only under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL);
- the new snapshot and the alerts it causes are written in one transaction, and only while
  the lease and the snapshot sequence are still ours; each alert's key is unique per watch;
- alerts are then posted from that outbox and marked sent. A crash before posting leaves
  them pending for the next holder of the lease; nothing is computed twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alert_rules import (
    FailureState,
    Snapshot,
    carry_unread_seats,
    evaluate,
    evaluate_failure,
    snapshot_of,
)
from bot.audit import Auditor
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.management import ManagementApiClient
from bot.lookup import LookupService
from bot.metrics import Metrics
from bot.rendering.alerts import alert_payload, render_watch_paused
from bot.rendering.ids import CLOSED_CHANNEL_CODES
from bot.store import CheckResult, Store, Watch
from bot.store.watches import FAILED, PENDING, SENT, OutboxAlert
from bot.webhooks.events import watch_keys

log = structlog.get_logger("alerts")

# Slack answers these when the bot may not post in the channel: pause the watch.


SHORT_INTERVAL_S = 60
"""Below this poll interval the worker warns once at start: fine to try alerts, costly at scale."""


@dataclass(frozen=True, slots=True)
class PollerOptions:
    interval_s: float = 900.0
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50
    concurrency: int = 16
    jitter: float = 0.1  # next checks spread over ±10% of the interval
    failure_alert_after: int = 3
    max_backoff_factor: int = 4  # a failing watch is checked at most 4x less often
    channel_spacing_s: float = 1.0  # chat.postMessage: about 1 message/s per channel
    max_delivery_attempts: int = 10
    # How often an idle worker looks for due watches: a watch a webhook woke is checked
    # within this long of becoming due (one indexed query; cheap on either store).
    idle_tick_s: float = 0.2
    refill_s: float = 0.1  # while checks run, newly due watches are claimed this often


@dataclass(slots=True)
class CycleStats:
    checked: int = 0
    failed: int = 0
    alerts_posted: int = 0
    lease_lost: int = 0
    seconds: float = 0.0
    errors_by_code: dict[str, int] = field(default_factory=dict)


def default_owner() -> str:
    return f"{socket.gethostname()}:{secrets.token_hex(4)}"


class Poller:
    def __init__(
        self,
        store: Store,
        client: LicenseApiClient,
        slack: AsyncWebClient,
        options: PollerOptions,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_webhook_alert: Callable[[float], None] | None = None,
        metrics: Metrics | None = None,
        management: ManagementApiClient | None = None,
    ) -> None:
        self.store = store
        self.client = client
        # The poller's lookups go the way every lookup goes; its budget is the client's own
        # (longer than a person's), and nobody asked, so nothing is audited.
        self.lookups = LookupService(client, Auditor(None), metrics, management=management)
        self.slack = slack
        self.options = options
        self.owner = owner or default_owner()
        self._clock = clock
        self._sleep = sleep
        self._on_webhook_alert = on_webhook_alert
        self._limit = asyncio.Semaphore(options.concurrency)
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self._channel_next_post: dict[str, float] = {}

    # --- the loop -------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a cycle in progress finishes its claimed batch first."""
        log.info("poller_started", owner=self.owner, interval_s=self.options.interval_s)
        if self.options.interval_s < SHORT_INTERVAL_S:
            log.warning(
                "poll_interval_short",
                interval_s=self.options.interval_s,
                detail="every watch is looked up this often; the client's rate limiter keeps "
                "the requests within LICENSESPRING_RATE_LIMIT",
            )
        while not stop.is_set():
            try:
                await self.run_cycle(stop)
            except Exception as error:
                log.error("poll_cycle_failed", error_type=type(error).__name__, exc_info=error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.options.idle_tick_s)
        log.info("poller_stopped", owner=self.owner)

    async def run_cycle(self, stop: asyncio.Event | None = None) -> CycleStats:
        """Check every watch that is due now, keeping up to `concurrency` checks in flight.

        Due watches are claimed (leased) up to `batch` at a time into a local queue, topped up
        at most every `refill_s` while checks run, so a watch a webhook woke mid-cycle waits
        for a free slot rather than for a whole batch, and a burst costs few claims. On
        `stop`, no more checks start; queued watches are released, those in flight finish.
        """
        stats = CycleStats()
        started = time.monotonic()
        in_flight: set[asyncio.Task[None]] = set()
        queue: collections.deque[Watch] = collections.deque()
        last_claim = -math.inf
        try:
            while stop is None or not stop.is_set():
                claimed = 0
                if len(queue) < self.options.batch and (
                    not queue or time.monotonic() - last_claim >= self.options.refill_s
                ):
                    batch = await self.store.watches.claim_due(
                        self.owner,
                        now=self._clock(),
                        lease=self.options.lease,
                        limit=self.options.batch - len(queue),
                    )
                    last_claim = time.monotonic()
                    claimed = len(batch)
                    queue.extend(batch)
                while queue and len(in_flight) < self.options.concurrency:
                    watch = queue.popleft()
                    in_flight.add(asyncio.create_task(self._check_bounded(watch, stats)))
                if not in_flight:
                    break
                if not claimed or len(in_flight) >= self.options.concurrency:
                    _, pending = await asyncio.wait(
                        in_flight,
                        timeout=self.options.refill_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    in_flight = set(pending)
        finally:
            for watch in queue:  # claimed but never started: free for the next poller
                await self.store.watches.release(watch.id, self.owner)
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        stats.seconds = time.monotonic() - started
        if stats.checked:
            log.info(
                "poll_cycle",
                checked=stats.checked,
                failed=stats.failed,
                alerts_posted=stats.alerts_posted,
                seconds=round(stats.seconds, 2),
            )
        return stats

    async def _check_bounded(self, watch: Watch, stats: CycleStats) -> None:
        async with self._limit:
            released = False
            try:
                released = await self.check(watch, stats)
            except Exception as error:
                log.error("watch_check_crashed", watch_id=watch.id, exc_info=error)
            finally:
                if not released:
                    await self.store.watches.release(watch.id, self.owner)

    # --- one watch ------------------------------------------------------------------------

    async def check(self, watch: Watch, stats: CycleStats) -> bool:
        """Check one leased watch; True when the lease is already given back."""
        now = self._clock()
        error_code: str | None = None
        current: Snapshot | None = None
        keys: frozenset[str] | None = None
        outcome = await self.lookups.refresh(watch.product, watch.customer_email, surface="poll")
        if outcome.summary is not None:
            if outcome.sent_at:
                # Webhooks received while the check waited for the rate limiter are answered
                # by this lookup: only later ones need another check.
                answered_from = datetime.fromtimestamp(outcome.sent_at, UTC)
                now = max(now, min(answered_from, self._clock()))
            current = snapshot_of(outcome.summary, outcome.seats)
            keys = watch_keys(outcome.summary)
        else:
            error_code = outcome.outcome
            stats.failed += 1
            stats.errors_by_code[error_code] = stats.errors_by_code.get(error_code, 0) + 1
        stats.checked += 1
        previous = Snapshot.from_json(watch.last_snapshot)
        if current is not None:
            current = carry_unread_seats(current, previous, outcome.seats)
        failure, alerts = evaluate_failure(
            FailureState(watch.consecutive_failures, watch.failure_alerted),
            error_code,
            alert_after=self.options.failure_alert_after,
        )
        if current is not None:
            alerts = evaluate(previous, current, watch.threshold_pct) + alerts
        result = CheckResult(
            outcome=error_code or "ok",
            snapshot=current.to_json() if current is not None else None,
            consecutive_failures=failure.consecutive_failures,
            failure_alerted=failure.alerted,
            next_check_at=self._next_check(now, failure.consecutive_failures),
            alerts=[
                (alert.kind.value, alert_payload(watch, alert, previous, current))
                for alert in alerts
            ],
            keys=keys,
        )
        suppress = watch.snoozed(now)
        # Nothing to post: the lease goes back in the same write (one less transaction).
        done = (not result.alerts or suppress) and not await self.store.watches.pending_alerts(
            watch.id
        )
        saved = await self.store.watches.save_check(
            watch, self.owner, result, now=now, suppress=suppress, release=done
        )
        if not saved:
            stats.lease_lost += 1
            log.warning("watch_lease_lost", watch_id=watch.id)
            return True  # someone else holds it
        if done:
            return True
        posted = await self.deliver(watch)
        stats.alerts_posted += posted
        if posted and alerts and watch.woken_at is not None:
            seconds = (self._clock() - watch.woken_at).total_seconds()
            log.info("webhook_alert_posted", watch_id=watch.id, seconds=round(seconds, 3))
            if self._on_webhook_alert is not None:
                self._on_webhook_alert(seconds)
        return False

    def _next_check(self, now: datetime, failures: int) -> datetime:
        factor = min(2 ** max(failures - 1, 0), self.options.max_backoff_factor) if failures else 1
        spread = 1 + random.uniform(-self.options.jitter, self.options.jitter)
        return now + timedelta(seconds=self.options.interval_s * factor * spread)

    # --- delivery -------------------------------------------------------------------------

    async def deliver(self, watch: Watch) -> int:
        """Post the watch's pending alerts in order; returns how many were posted."""
        posted = 0
        for alert in await self.store.watches.pending_alerts(watch.id):
            try:
                ts = await self._post(alert)
            except SlackApiError as error:
                code = str(error.response.get("error", "unknown_error"))
                await self._delivery_failed(watch, alert, code)
                return posted
            await self.store.watches.mark_alert(alert, SENT, now=self._clock(), message_ts=ts)
            posted += 1
        return posted

    async def _post(self, alert: OutboxAlert) -> str:
        lock = self._channel_locks.setdefault(alert.channel_id, asyncio.Lock())
        async with lock:
            wait = self._channel_next_post.get(alert.channel_id, 0.0) - time.monotonic()
            if wait > 0:
                await self._sleep(wait)
            try:
                response = await self.slack.chat_postMessage(
                    channel=alert.channel_id,
                    text=str(alert.payload.get("text", "")),
                    blocks=alert.payload.get("blocks"),
                    unfurl_links=False,
                    unfurl_media=False,
                )
            finally:
                self._channel_next_post[alert.channel_id] = (
                    time.monotonic() + self.options.channel_spacing_s
                )
        log.info("alert_posted", watch_id=alert.watch_id, key=alert.alert_key)
        return str(response.get("ts", ""))

    async def _delivery_failed(self, watch: Watch, alert: OutboxAlert, code: str) -> None:
        now = self._clock()
        if code in CLOSED_CHANNEL_CODES:
            await self.store.watches.mark_alert(alert, FAILED, now=now)
            await self.store.watches.pause(watch.id, code)
            log.warning("watch_paused", watch_id=watch.id, channel=watch.channel_id, code=code)
            await self._tell_creator(watch, code)
            return
        exhausted = alert.attempts + 1 >= self.options.max_delivery_attempts
        await self.store.watches.mark_alert(alert, FAILED if exhausted else PENDING, now=now)
        log.warning(
            "alert_not_posted",
            watch_id=watch.id,
            key=alert.alert_key,
            code=code,
            attempts=alert.attempts + 1,
            gave_up=exhausted,
        )

    async def _tell_creator(self, watch: Watch, code: str) -> None:
        message = render_watch_paused(
            code,
            product=watch.product,
            customer_email=watch.customer_email,
            channel_id=watch.channel_id,
        )
        try:
            await self.slack.chat_postMessage(
                channel=watch.created_by, text=message.text, blocks=message.blocks
            )
        except SlackApiError as error:
            log.warning("pause_notice_failed", watch_id=watch.id, error=error.response.get("error"))
