"""The alert poller: check every due watch, store what changed, post each alert once.

Exactly once, across restarts and several workers:
- a watch is checked only under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL);
- the new snapshot and the alerts it causes are written in one transaction, and only while
  the lease and the snapshot sequence are still ours; each alert's key is unique per watch;
- alerts are then posted from that outbox, only while the lease is held. Each attempt is
  recorded (`posting`) before chat.postMessage is sent; Slack's answer makes it `sent`, a
  definite refusal `pending` again (retried with backoff) or `failed`. When the outcome is
  unknown (a timeout, a reset after sending, a shutdown or crash mid-post), the alert becomes
  `unconfirmed` and is never sent again: at most once, and once unless Slack lost it.
- a check that fails, however it fails, backs the watch off; a webhook wake-up is answered
  only by a successful check whose request was sent after the webhook arrived (compared on
  the database's clock), and a failed woken check is retried within seconds.
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
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alert_rules import (
    Alert,
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
from bot.lookup import LookupService, off_loop_if_large
from bot.metrics import Metrics
from bot.rendering.alerts import alert_payload, render_watch_paused
from bot.rendering.ids import CLOSED_CHANNEL_CODES
from bot.seats import Seats
from bot.store import CheckResult, Store, Watch
from bot.store.watches import FAILED, PENDING, SENT, UNCONFIRMED, OutboxAlert, keys_digest
from bot.summary import Summary
from bot.watches import WatchLifecycle
from bot.webhooks.events import watch_keys

log = structlog.get_logger("alerts")

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
    # A definite refusal (a SlackApiError other than a closed channel) is retried after
    # these waits within the check; then at the watch's next check.
    delivery_backoff_s: tuple[float, ...] = (1.0, 2.0, 4.0)
    # A failed check of a woken watch is retried after this, doubling per failure, up to
    # the failure backoff: the wake-up is kept until a check succeeds.
    wake_retry_s: float = 2.0
    # After a woken check, further webhooks for the watch wait this long (ALERT_COALESCE_SECONDS):
    # a burst of changes gives one alert per this many seconds, the last with the final state.
    coalesce_s: float = 10.0
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


# The error code of a check that failed with an exception the client did not map.
CHECK_CRASHED = "check_failed"


def default_owner() -> str:
    return f"{socket.gethostname()}:{secrets.token_hex(4)}"


MAX_PACED_CHANNELS = 1_000
"""Channels whose posting pace the poller remembers before it forgets the idle ones."""


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
        self.watches = WatchLifecycle(store, self.lookups, Auditor(None))
        self.slack = slack
        self.options = options
        self.owner = owner or default_owner()
        self._clock = clock
        self._sleep = sleep
        self._on_webhook_alert = on_webhook_alert
        self._limit = asyncio.Semaphore(options.concurrency)
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self._channel_next_post: dict[str, float] = {}
        self._metrics = metrics
        self._stop: asyncio.Event | None = None

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
        outage = _Outage()
        while not stop.is_set():
            try:
                await self.run_cycle(stop)
            except Exception as error:  # noqa: BLE001 - logged by the outage, with its traceback
                outage.failed(error)
            else:
                outage.recovered()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=outage.pause(self.options.idle_tick_s))
        log.info("poller_stopped", owner=self.owner)

    async def run_cycle(self, stop: asyncio.Event | None = None) -> CycleStats:
        """Check every watch that is due now, keeping up to `concurrency` checks in flight.

        Due watches are claimed (leased) up to `batch` at a time into a local queue, topped up
        at most every `refill_s` while checks run, so a watch a webhook woke mid-cycle waits
        for a free slot rather than for a whole batch, and a burst costs few claims. On
        `stop`, no more checks start; queued watches are released, those in flight finish.
        """
        self._stop = stop
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

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _check_bounded(self, watch: Watch, stats: CycleStats) -> None:
        async with self._limit:
            released = False
            try:
                released = await self.check(watch, stats)
            except Exception as error:
                log.error("watch_check_crashed", watch_id=watch.id, exc_info=error)
            finally:
                if not released:
                    with contextlib.suppress(Exception):  # the store may be what failed
                        await self.store.watches.release(watch.id, self.owner)

    # --- one watch ------------------------------------------------------------------------

    async def check(self, watch: Watch, stats: CycleStats) -> bool:
        """Check one leased watch; True when the lease is already given back.

        Whatever goes wrong before the result is stored (an error the client mapped or not, a
        bug in a rule) is a failed check: the watch backs off and it counts toward "lookups
        keep failing". Only the store failing leaves the watch as it was.
        """
        now = self._clock()
        stats.checked += 1
        stored_users = _snapshot_users(watch.last_snapshot)
        previous = await off_loop_if_large(stored_users, Snapshot.from_json, watch.last_snapshot)
        current: Snapshot | None = None
        snapshot_json: dict[str, Any] | None = None
        digest: str | None = None
        try:
            summary, seats, answered_through = await self._look(watch)
            # Snapshot, keys, rules and messages of a large customer are tens of ms of CPU:
            # off the event loop, which `serve --with-worker` shares with every ack.
            assessed = await off_loop_if_large(
                max(summary.total, stored_users), _assess, watch, previous, summary, seats
            )
            current, snapshot_json = assessed.current, assessed.snapshot_json
            keys, digest, alerts = assessed.keys, assessed.digest, assessed.alerts
            payloads, error_code = assessed.payloads, None
        except _LookupFailed as failed:
            error_code, keys, answered_through, alerts, payloads = failed.code, None, None, [], []
        except Exception as error:
            log.error("watch_check_failed", watch_id=watch.id, exc_info=error)
            error_code, keys, answered_through, alerts, payloads = CHECK_CRASHED, None, None, [], []
            current = None
        if error_code is not None:
            stats.failed += 1
            stats.errors_by_code[error_code] = stats.errors_by_code.get(error_code, 0) + 1
        failure, failure_alerts = evaluate_failure(
            FailureState(watch.consecutive_failures, watch.failure_alerted),
            error_code,
            alert_after=self.options.failure_alert_after,
        )
        alerts = alerts + failure_alerts
        payloads += [
            (alert.kind.value, alert_payload(watch, alert, previous, current))
            for alert in failure_alerts
        ]
        result = CheckResult(
            outcome=error_code or "ok",
            snapshot=snapshot_json,
            consecutive_failures=failure.consecutive_failures,
            failure_alerted=failure.alerted,
            next_check_at=now + self._next_check_delay(failure.consecutive_failures),
            alerts=payloads,
            keys=keys,
            keys_digest=digest,
            answered_through=answered_through,
            wake_next=self._wake_next(watch, now, failure.consecutive_failures),
        )
        suppress = watch.snoozed(now)
        # Nothing to post: the lease goes back in the same write (one less transaction).
        done = (not result.alerts or suppress) and not await self.store.watches.has_open_alerts(
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

    async def _look(self, watch: Watch) -> tuple[Summary, Seats | None, datetime | None]:
        """A fresh answer, its seats, and the database time through which it answers webhooks.

        The request must have been sent after the database's clock was read: an answer joined
        from a request already in flight (someone's lookup of the same customer) may predate a
        webhook, so it is asked once more; if that joins too, the wake-up is kept.
        """
        answered_through: datetime | None = None
        summary = None
        seats = None
        for _ in range(2):
            asked = await self.store.watches.database_now()
            asked_wall = time.time()
            outcome = await self.lookups.refresh(
                watch.product, watch.customer_email, surface="poll"
            )
            if outcome.summary is None:
                code = outcome.error.code if outcome.error is not None else outcome.outcome
                raise _LookupFailed(code)
            summary, seats = outcome.summary, outcome.seats
            if outcome.sent_at >= asked_wall:
                # Sent this long after the clock was read (a rate-limit wait, say): what
                # arrived meanwhile is answered too. One process's clock, a short interval.
                answered_through = asked + timedelta(seconds=outcome.sent_at - asked_wall)
                break
        assert summary is not None
        return summary, seats, answered_through

    def _next_check_delay(self, failures: int) -> timedelta:
        factor = min(2 ** max(failures - 1, 0), self.options.max_backoff_factor) if failures else 1
        spread = 1 + random.uniform(-self.options.jitter, self.options.jitter)
        return timedelta(seconds=self.options.interval_s * factor * spread)

    def _wake_next(self, watch: Watch, now: datetime, failures: int) -> datetime | None:
        """When a kept wake-up is retried (failures), or until when webhooks wait (bursts)."""
        if failures:
            delay = self.options.wake_retry_s * 2 ** (failures - 1)
            ceiling = self._next_check_delay(failures).total_seconds()
            return now + timedelta(seconds=min(delay, ceiling))
        if watch.woken_at is not None and self.options.coalesce_s > 0:
            return now + timedelta(seconds=self.options.coalesce_s)
        return None

    # --- delivery -------------------------------------------------------------------------

    async def deliver(self, watch: Watch) -> int:
        """Post the watch's pending alerts in order, while its lease is held; how many posted.

        Each is posted at most once: see the module's docstring.
        """
        for key in await self.store.watches.abandoned_posts(watch.id):
            self._unconfirmed(watch.id, key, "abandoned", "an earlier attempt never finished")
        posted = 0
        for alert in await self.store.watches.pending_alerts(watch.id):
            outcome = await self._deliver_one(watch, alert)
            if outcome != SENT:
                return posted
            posted += 1
        return posted

    async def _deliver_one(self, watch: Watch, alert: OutboxAlert) -> str:
        """Post one alert, retrying definite refusals with backoff; its final status here."""
        attempts = alert.attempts
        for wait in (0.0, *self.options.delivery_backoff_s):
            if wait:
                if self._stopping():
                    return PENDING
                await self._sleep(wait)
            if not await self.store.watches.start_posting(alert, self.owner, now=self._clock()):
                log.warning("alert_not_posted_lease_lost", watch_id=watch.id, key=alert.alert_key)
                return PENDING
            attempts += 1
            try:
                ts = await self._post(alert)
            except SlackApiError as error:
                code = str(error.response.get("error", "unknown_error"))
                status = await self._delivery_failed(watch, alert, code, attempts)
                if status != PENDING:
                    return status
                continue
            except aiohttp.ClientConnectorError as error:
                # No connection was made, so nothing was sent: a definite failure.
                status = await self._delivery_failed(watch, alert, type(error).__name__, attempts)
                if status != PENDING:
                    return status
                continue
            except BaseException as error:
                # Sent, perhaps received: Slack may hold it. Never sent again. A cancellation
                # (shutdown) records it all the same before it goes on.
                await asyncio.shield(
                    self.store.watches.finish_posting(alert, UNCONFIRMED, now=self._clock())
                )
                self._unconfirmed(watch.id, alert.alert_key, type(error).__name__, str(error))
                if not isinstance(error, Exception):
                    raise
                return UNCONFIRMED
            await self.store.watches.finish_posting(alert, SENT, now=self._clock(), message_ts=ts)
            return SENT
        return PENDING

    def _unconfirmed(self, watch_id: int, key: str, error: str, detail: str) -> None:
        log.warning(
            "alert_unconfirmed",
            watch_id=watch_id,
            key=key,
            error=error,
            detail=detail[:200],
            action="not posted again: Slack may or may not show it",
        )
        if self._metrics is not None:
            self._metrics.alerts_unconfirmed.inc()

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
        self._forget_idle_channels()
        return str(response.get("ts", ""))

    def _forget_idle_channels(self) -> None:
        """Keep the per-channel pacing state bounded: past `MAX_PACED_CHANNELS`, channels whose
        spacing has run out and whose lock nobody holds are forgotten (pacing them again
        starts from nothing, which is what their state said anyway)."""
        if len(self._channel_next_post) <= MAX_PACED_CHANNELS:
            return
        now = time.monotonic()
        for channel, next_post in list(self._channel_next_post.items()):
            lock = self._channel_locks.get(channel)
            if next_post <= now and (lock is None or not lock.locked()):
                del self._channel_next_post[channel]
                self._channel_locks.pop(channel, None)

    async def _delivery_failed(
        self, watch: Watch, alert: OutboxAlert, code: str, attempts: int
    ) -> str:
        """Slack refused the post: record it; the alert's status (pending: try again)."""
        now = self._clock()
        if code in CLOSED_CHANNEL_CODES:
            await self.store.watches.finish_posting(alert, FAILED, now=now)
            await self.watches.pause(watch.id, code)
            await self._tell_creator(watch, code)
            return FAILED
        exhausted = attempts >= self.options.max_delivery_attempts
        status = FAILED if exhausted else PENDING
        await self.store.watches.finish_posting(alert, status, now=now)
        log.warning(
            "alert_not_posted",
            watch_id=watch.id,
            key=alert.alert_key,
            code=code,
            attempts=attempts,
            gave_up=exhausted,
        )
        return status

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


class _LookupFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _Outage:
    """The poll loop while the store (or anything a cycle needs) keeps failing: logged once
    when it starts and once when it ends, with a count, and retried less and less often."""

    MAX_PAUSE_S = 5.0

    def __init__(self) -> None:
        self.failures = 0
        self.started = 0.0

    def failed(self, error: Exception) -> None:
        if not self.failures:
            self.started = time.monotonic()
            log.error("poll_cycle_failed", error_type=type(error).__name__, exc_info=error)
        self.failures += 1

    def recovered(self) -> None:
        if self.failures:
            log.warning(
                "poll_cycle_recovered",
                failed_cycles=self.failures,
                seconds=round(time.monotonic() - self.started, 1),
            )
        self.failures = 0

    def pause(self, idle_tick_s: float) -> float:
        if not self.failures:
            return idle_tick_s
        return min(self.MAX_PAUSE_S, idle_tick_s * 2.0 ** min(self.failures, 10))


@dataclass(frozen=True, slots=True)
class _Assessed:
    current: Snapshot
    snapshot_json: dict[str, Any]
    keys: frozenset[str]
    digest: str
    alerts: list[Alert]
    payloads: list[tuple[str, dict[str, Any]]]


def _assess(
    watch: Watch, previous: Snapshot | None, summary: Summary, seats: Seats | None
) -> _Assessed:
    """Pure, and CPU-bound for large customers: the answer as a snapshot (seats the
    Management API could not read this time carried from `previous`, so an unread answer is
    no change), its keys and their digest, the alerts and their messages."""
    current = carry_unread_seats(snapshot_of(summary, seats), previous, seats)
    keys = watch_keys(summary)
    alerts = evaluate(previous, current, watch.threshold_pct)
    payloads = [
        (alert.kind.value, alert_payload(watch, alert, previous, current)) for alert in alerts
    ]
    return _Assessed(current, current.to_json(), keys, keys_digest(keys), alerts, payloads)


def _snapshot_users(snapshot: Any) -> int:
    users = snapshot.get("users") if isinstance(snapshot, dict) else None
    return len(users) if isinstance(users, list) else 0
