"""create_app: the Bolt AsyncApp with its dependencies injected and listeners registered."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.audit import Auditor
from bot.config import Settings
from bot.licensespring.client import LicenseApiClient
from bot.lookup import LookupService, new_reference
from bot.metrics import Metrics
from bot.slack import actions, apphome, commands, forms, threads, watching
from bot.slack.access import AccessMiddleware, AccessPolicy
from bot.slack.modal_views import notice_modal
from bot.slack.replies import INTERNAL_ERROR_TEXT
from bot.store import Store
from bot.tasks import TaskTracker

log = structlog.get_logger("slack")


@dataclass(frozen=True, slots=True)
class Services:
    """What listeners need, built once at start-up."""

    settings: Settings
    lookups: LookupService
    auditor: Auditor
    store: Store | None
    tasks: TaskTracker
    http_session: aiohttp.ClientSession | None = None  # response_url posts, kept alive


def build_web_client(settings: Settings) -> AsyncWebClient:
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def create_app(
    settings: Settings,
    *,
    licensespring: LicenseApiClient,
    store: Store | None = None,
    web_client: AsyncWebClient | None = None,
    tasks: TaskTracker | None = None,
    metrics: Metrics | None = None,
    http_session: aiohttp.ClientSession | None = None,
) -> AsyncApp:
    client = web_client or build_web_client(settings)
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        logger=logging.getLogger("slack_bolt"),
        # Listeners run after ack(): the HTTP answer goes back to Slack first.
        process_before_response=False,
    )
    auditor = Auditor(store)
    services = Services(
        settings=settings,
        lookups=LookupService(licensespring, auditor, metrics, deadline_s=settings.lookup_deadline),
        auditor=auditor,
        store=store,
        tasks=tasks if tasks is not None else TaskTracker(),
        http_session=http_session,
    )
    if store is not None:
        app.use(DedupeMiddleware(store, services.tasks))
    app.use(AccessMiddleware(AccessPolicy(settings, client), auditor, client, services.tasks))
    commands.register(app, services)
    actions.register(app, services)
    threads.register(app, services)
    watching.register(app, services)
    apphome.register(app, services)
    forms.register(app, services)
    app.error(_on_error)
    return app


EVENT_ID_RETENTION = timedelta(hours=1)  # Slack retries within minutes; keep an hour
EVENT_PURGE_EVERY_S = 300.0


class DedupeMiddleware(AsyncMiddleware):
    """Process each Events API delivery once, across retries, processes and restarts."""

    def __init__(self, store: Store, tasks: TaskTracker) -> None:
        self._store = store
        self._tasks = tasks
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
            return await self._store.claim_event(event_id)
        except (SQLAlchemyError, OSError) as error:
            # Fail open: a possible duplicate reply beats a lost one while the store is down.
            log.warning("event_dedupe_unavailable", event_id=event_id, error=type(error).__name__)
            return True

    async def _purge(self) -> None:
        try:
            removed = await self._store.purge_events(older_than=EVENT_ID_RETENTION)
        except Exception as error:  # noqa: BLE001 - housekeeping; the next purge retries
            log.warning("event_purge_failed", error=str(error))
        else:
            log.debug("events_purged", removed=removed)


async def _on_error(error: Exception, body: dict[str, Any], respond: Any) -> BoltResponse:
    """One handler for every unexpected failure: log it with a reference, tell the user, 200."""
    reference = new_reference()
    log.error(
        "listener_failed",
        reference=reference,
        error_type=type(error).__name__,
        request_type=body.get("type") or ("command" if "command" in body else None),
        exc_info=error,
    )
    if respond is not None and body.get("response_url"):
        try:
            await respond(
                text=f"{INTERNAL_ERROR_TEXT} Reference: `{reference}`",
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception as respond_error:  # noqa: BLE001 - already failing; never raise here
            log.warning("error_reply_failed", reference=reference, error=str(respond_error))
    if body.get("type") == "view_submission":
        # Used only when the listener failed before its ack: the modal says so and stays open.
        view = notice_modal("License users", f"{INTERNAL_ERROR_TEXT} Reference: `{reference}`")
        return BoltResponse(
            status=200,
            body=json.dumps({"response_action": "update", "view": view}),
            headers={"content-type": "application/json"},
        )
    return BoltResponse(status=200, body="")
