"""Events API deliveries processed once, across Slack's retries, processes and restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from slack_bolt import BoltResponse
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy.exc import SQLAlchemyError

from bot.store import Store
from bot.tasks import TaskTracker

log = structlog.get_logger("slack.dedupe")


EVENT_ID_RETENTION = timedelta(hours=1)  # Slack retries within minutes; keep an hour
EVENT_PURGE_EVERY_S = 300.0
CLAIM_BUDGET_S = 1.0
"""Of Slack's 3 s for the ack, what claiming an event id may take (a locked or slow store)."""


class DedupeMiddleware(AsyncMiddleware):
    """Process each Events API delivery once, across retries, processes and restarts."""

    def __init__(
        self, store: Store, tasks: TaskTracker, *, claim_budget_s: float = CLAIM_BUDGET_S
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._claim_budget_s = claim_budget_s
        self._last_purge = time.monotonic()

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        body = req.body
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id:
            if not await self._first_delivery(event_id):
                log.info("duplicate_event_ignored", event_id=event_id)
                return BoltResponse(status=200, body="")
            if time.monotonic() - self._last_purge > EVENT_PURGE_EVERY_S:
                self._last_purge = time.monotonic()
                self._tasks.spawn(self._purge(), name="purge_events")
        await next()
        return resp

    async def _first_delivery(self, event_id: str) -> bool:
        try:
            async with asyncio.timeout(self._claim_budget_s):
                return await self._store.claim_event(event_id)
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            # Fail open: a possible duplicate reply beats a lost one (or a late ack) while the
            # store is down, locked or slow.
            log.warning("event_dedupe_unavailable", event_id=event_id, error=type(error).__name__)
            return True

    async def _purge(self) -> None:
        try:
            removed = await self._store.purge_events(older_than=EVENT_ID_RETENTION)
        except Exception as error:  # noqa: BLE001 - housekeeping; the next purge retries
            log.warning("event_purge_failed", error=str(error))
        else:
            log.debug("events_purged", removed=removed)
