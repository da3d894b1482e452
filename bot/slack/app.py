"""create_app: the Bolt AsyncApp with its dependencies injected and listeners registered."""

from __future__ import annotations

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
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Auditor
from bot.config import Settings
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.management import ManagementApiClient
from bot.lookup import LookupService
from bot.metrics import Metrics
from bot.slack import answers, commands, home, modals, steps, threads, watches
from bot.slack.core.channels import ChannelMembers
from bot.slack.core.context import RequestContextMiddleware
from bot.slack.core.dedupe import DedupeMiddleware
from bot.slack.core.failures import acknowledged, answer_failure
from bot.slack.core.policy import AccessPolicy, Gate
from bot.slack.core.routes import Routes
from bot.slack.core.services import Services
from bot.store import Store
from bot.tasks import TaskTracker
from bot.watches import WatchLifecycle

log = structlog.get_logger("slack")

SURFACES: tuple[Callable[[Routes], None], ...] = (
    commands.register,
    threads.register,
    answers.register,
    home.register,
    modals.register,
    watches.register,
    steps.register,
)
"""Each surface registers its own listeners, each with its reader; none imports another."""


DONE_TWICE_IF_REPEATED = (
    "chat.postMessage",
    "functions.completeSuccess",
    "functions.completeError",
)
"""Web API methods that act again when repeated (a second post, a second completion)."""


class _UnsentOnlyRetryHandler(AsyncConnectionErrorRetryHandler):
    """Connection errors retried, except for a method that would act twice and may already
    have reached Slack: there only a connection never made (nothing sent) is retried."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.rstrip("/").endswith(DONE_TWICE_IF_REPEATED):
            return isinstance(error, aiohttp.ClientConnectorError)
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


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
            _UnsentOnlyRetryHandler(max_retry_count=2),
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
    management: ManagementApiClient | None = None,
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
    lookups = LookupService(
        licensespring,
        auditor,
        metrics,
        deadline_s=settings.lookup_deadline,
        management=management,
    )
    tracker = tasks if tasks is not None else TaskTracker()
    services = Services(
        settings=settings,
        lookups=lookups,
        auditor=auditor,
        store=store,
        tasks=tracker,
        watches=WatchLifecycle(
            store, lookups, auditor, known_products=settings.licensespring_products
        ),
        members=ChannelMembers(client),
        http_session=http_session,
    )
    # Order matters: the context first (the rest use its actor, reference and replier).
    app.use(RequestContextMiddleware(services))
    if store is not None:
        app.use(DedupeMiddleware(store, tracker))
    routes = Routes(app, Gate(AccessPolicy(settings, client), auditor, tracker), settings, tracker)
    for register in SURFACES:
        register(routes)
    app.error(on_error)
    return app


async def on_error(
    error: Exception,
    body: dict[str, Any],
    context: dict[str, Any],
    response: BoltResponse | None,
) -> BoltResponse | None:
    """Bolt's error handler: what a listener raised before its ack (after it, listeners are
    contained by `bot.slack.core.failures`). Bolt passes `response` only until the ack."""
    return await answer_failure(
        error, body, context, acknowledged=response is None or acknowledged(context)
    )
