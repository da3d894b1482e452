"""create_app: the Bolt AsyncApp with its dependencies injected and listeners registered."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Auditor
from bot.config import Settings
from bot.licensespring.client import LicenseApiClient
from bot.lookup import LookupService, new_reference
from bot.metrics import Metrics
from bot.rendering.blocks import render_notice
from bot.slack import actions, apphome, commands, forms, threads, watching
from bot.slack.access import AccessMiddleware, AccessPolicy
from bot.slack.context import RequestContextMiddleware
from bot.slack.dedupe import DedupeMiddleware
from bot.slack.errors import INTERNAL_ERROR_TEXT, UserFacingError
from bot.slack.modal_views import notice_modal
from bot.slack.replier import Replier
from bot.slack.services import Services
from bot.store import Store
from bot.tasks import TaskTracker

log = structlog.get_logger("slack")

LISTENERS: tuple[Callable[[AsyncApp, TaskTracker], None], ...] = (
    commands.register,
    actions.register,
    threads.register,
    watching.register,
    apphome.register,
    forms.register,
)
"""Each listener module registers its own callbacks; none imports another."""


def build_web_client(
    settings: Settings, *, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The Web API client; with `session`, every call reuses its pooled connections instead
    of opening (and closing) a session and a TCP connection per call."""
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
        session=session,
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
    # Order matters: the context first (the others use its actor and reference).
    app.use(RequestContextMiddleware(services))
    if store is not None:
        app.use(DedupeMiddleware(store, services.tasks))
    app.use(AccessMiddleware(AccessPolicy(settings, client), auditor, services.tasks))
    for register in LISTENERS:
        register(app, services.tasks)
    app.error(on_error)
    return app


async def on_error(error: Exception, body: dict[str, Any], context: dict[str, Any]) -> BoltResponse:
    """Every failure a listener raises, answered once, with the request's reference, and 200.

    A UserFacingError is the listener saying what to tell the person; anything else is a bug:
    the generic reply, and the traceback in the log under the same reference.
    """
    reference = str(context.get("reference") or new_reference())
    if isinstance(error, UserFacingError):
        log.info("request_refused", kind=type(error).__name__, reason=error.text[:200])
        message = error.message(reference)
    else:
        log.error(
            "listener_failed",
            error_type=type(error).__name__,
            request_type=body.get("type") or ("command" if "command" in body else None),
            exc_info=error,
        )
        message = render_notice(INTERNAL_ERROR_TEXT, reference=reference)
    if body.get("type") == "view_submission":
        # Used only when the listener failed before its ack: the modal says so and stays open.
        shown = message.text if isinstance(error, UserFacingError) else INTERNAL_ERROR_TEXT
        view = notice_modal("License users", f"{shown} Reference: `{reference}`")
        return BoltResponse(
            status=200,
            body=json.dumps({"response_action": "update", "view": view}),
            headers={"content-type": "application/json"},
        )
    replier = context.get("replier")
    if isinstance(replier, Replier):
        try:
            await replier.private(message)
        except Exception as reply_error:  # noqa: BLE001 - already failing; never raise here
            log.warning("error_reply_failed", error=str(reply_error))
    return BoltResponse(status=200, body="")
