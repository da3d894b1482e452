"""Run modes: HTTP (uvicorn) and Socket Mode, each building its dependencies once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import structlog
import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette

from bot.alerts.poller import Poller, PollerOptions, default_owner
from bot.alerts.retention import Retention, RetentionPolicy
from bot.config import ConfigError, Settings
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.management import ManagementApiClient
from bot.licensespring.ratelimit import (
    SHARED_RATE_MARGIN,
    SharedRateLimiter,
    credential_identity,
)
from bot.metrics import Metrics
from bot.server import create_server
from bot.slack.app import build_web_client, create_app
from bot.store import Store, redact_url
from bot.store.ratebucket import RateBucketRepository, Reservation
from bot.tasks import TaskTracker

log = structlog.get_logger("runtime")

# In-flight lookups get this long to deliver their replies after SIGTERM.
DRAIN_TIMEOUT_S = 15.0
SLACK_CONNECTIONS = 20


def require(settings: Settings, *names: str) -> None:
    """Stop start-up with one line naming the first missing setting."""
    for name in names:
        if getattr(settings, name) is None:
            raise ConfigError(f"configuration error: {name.upper()} is required for this mode")


@dataclass
class Runtime:
    """Everything a running bot owns; closed in reverse order of opening."""

    settings: Settings
    app: AsyncApp
    licensespring: LicenseApiClient
    store: Store
    tasks: TaskTracker
    metrics: Metrics
    http_session: aiohttp.ClientSession
    poller_stop: asyncio.Event | None = None
    management: ManagementApiClient | None = None
    webhooks_purged_at: float = field(default_factory=time.monotonic)

    async def aclose(self) -> None:
        """Stop the poller after its batch, let in-flight replies finish, then close."""
        if self.poller_stop is not None:
            self.poller_stop.set()
        await self.tasks.drain(DRAIN_TIMEOUT_S)
        await self.licensespring.aclose()
        if self.management is not None:
            await self.management.aclose()
        await self.http_session.close()
        await self.store.close()

    def start_poller(self) -> None:
        """Run the alert poller inside this process (single-process deployments)."""
        self.poller_stop = asyncio.Event()
        poller = build_poller(
            self.settings,
            self.store,
            self.licensespring,
            self.app.client,
            on_webhook_alert=self.metrics.webhook_alert_seconds.observe,
            metrics=self.metrics,
            management=self.management,
        )
        self.tasks.spawn(poller.run_forever(self.poller_stop), name="alert_poller")
        retention = build_retention(self.settings, self.store)
        self.tasks.spawn(retention.run_forever(self.poller_stop), name="retention")


def build_poller(
    settings: Settings,
    store: Store,
    licensespring: LicenseApiClient,
    slack: AsyncWebClient,
    *,
    on_webhook_alert: Callable[[float], None] | None = None,
    metrics: Metrics | None = None,
    management: ManagementApiClient | None = None,
) -> Poller:
    return Poller(
        store,
        licensespring,
        slack,
        PollerOptions(
            interval_s=settings.alert_poll_interval,
            coalesce_s=settings.alert_coalesce_seconds,
        ),
        on_webhook_alert=on_webhook_alert,
        metrics=metrics,
        management=management,
    )


def build_management_client(settings: Settings) -> ManagementApiClient | None:
    """The Management API client, only when a management key is set."""
    return ManagementApiClient.from_settings(settings) if settings.has_management_key else None


def build_retention(settings: Settings, store: Store) -> Retention:
    return Retention(store, RetentionPolicy.from_settings(settings), default_owner())


def build_licensespring_client(settings: Settings, store: Store) -> LicenseApiClient:
    """The License API client; on PostgreSQL its rate limit is shared by every process."""
    principal = (
        settings.licensespring_client_id
        if settings.has_oauth_credentials
        else settings.licensespring_api_key.get_secret_value()
        if settings.licensespring_api_key is not None
        else None
    )
    if store.dialect != "postgresql" or principal is None:
        return LicenseApiClient.from_settings(settings)
    bucket = RateBucketRepository(store.engine)
    credential = credential_identity(settings.licensespring_api_url, principal)
    client = default_owner()
    slot_rate = settings.licensespring_rate_limit * SHARED_RATE_MARGIN

    async def reserve(count: int) -> Reservation:
        return await bucket.reserve(credential, client, count=count, rate=slot_rate)

    limiter = SharedRateLimiter(settings.licensespring_rate_limit, reserve)
    log.info("shared_rate_limit", rate=settings.licensespring_rate_limit)
    return LicenseApiClient.from_settings(settings, limiter=limiter)


async def start_runtime(
    settings: Settings, *, web_client: AsyncWebClient | None = None, with_worker: bool = False
) -> Runtime:
    """Open the store (migrating it), the License API client, and build the Bolt app."""
    try:
        store = await Store.open(settings.database_url)
    except ValueError as error:
        raise ConfigError(f"configuration error: {error}") from None
    log.info("store_open", url=redact_url(settings.database_url), dialect=store.dialect)
    licensespring = build_licensespring_client(settings, store)
    management = build_management_client(settings)
    tasks = TaskTracker()
    metrics = Metrics(licensespring)
    http_session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10),
        # Pooled connections to Slack (Web API, response_url): bounded, so a burst of replies
        # queues for a connection instead of holding a socket each for the keep-alive time.
        connector=aiohttp.TCPConnector(limit=SLACK_CONNECTIONS),
    )
    app = create_app(
        settings,
        licensespring=licensespring,
        store=store,
        web_client=web_client or build_web_client(settings, session=http_session),
        tasks=tasks,
        metrics=metrics,
        http_session=http_session,
        management=management,
    )
    runtime = Runtime(
        settings=settings,
        app=app,
        licensespring=licensespring,
        store=store,
        tasks=tasks,
        metrics=metrics,
        http_session=http_session,
        management=management,
    )
    if with_worker:
        runtime.start_poller()
    return runtime


def build_http_app(settings: Settings, *, with_worker: bool = False) -> Starlette:
    return create_server(lambda: start_runtime(settings, with_worker=with_worker))


def warn_if_no_licensespring(settings: Settings) -> None:
    if not settings.has_licensespring_credentials:
        log.warning(
            "licensespring_not_configured",
            hint="lookups will answer 'not configured'; set LICENSESPRING_API_KEY and "
            "LICENSESPRING_SHARED_KEY or run the sandbox",
        )


async def _store_reachable(settings: Settings) -> None:
    """Open (and migrate) the store once before serving, so a dead database is one line."""
    try:
        store = await Store.open(settings.database_url)
    except (OSError, SQLAlchemyError) as error:
        raise ConfigError(
            f"cannot open the store at {redact_url(settings.database_url)} (DATABASE_URL): "
            f"{type(error).__name__}"
        ) from None
    await store.close()


def serve(settings: Settings, host: str, port: int, *, with_worker: bool = False) -> None:
    require(settings, "slack_bot_token", "slack_signing_secret")
    warn_if_no_licensespring(settings)
    asyncio.run(_store_reachable(settings))
    uvicorn.run(
        build_http_app(settings, with_worker=with_worker),
        host=host,
        port=port,
        log_config=None,  # our structlog set-up already owns the root logger
        access_log=False,
        timeout_graceful_shutdown=20,
        proxy_headers=True,
    )


def socket(settings: Settings, *, with_worker: bool = False) -> None:
    require(settings, "slack_bot_token", "slack_app_token")
    warn_if_no_licensespring(settings)
    asyncio.run(_socket_main(settings, with_worker=with_worker))


async def _socket_main(settings: Settings, *, with_worker: bool) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None
    runtime = await start_runtime(settings, with_worker=with_worker)
    handler = AsyncSocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
    stop = stop_on_signals()
    try:
        log.info("socket_mode_starting")
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await stop.wait()
        log.info("socket_mode_stopping")
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.aclose()
        log.info("stopped")


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so the process can drain and close cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def worker(settings: Settings) -> None:
    require(settings, "slack_bot_token")
    warn_if_no_licensespring(settings)
    asyncio.run(_worker_main(settings))


async def _worker_main(settings: Settings) -> None:
    """The alert poller alone: stops after the batch in progress on SIGTERM or Ctrl-C."""
    try:
        store = await Store.open(settings.database_url)
    except ValueError as error:
        raise ConfigError(f"configuration error: {error}") from None
    licensespring = build_licensespring_client(settings, store)
    management = build_management_client(settings)
    stop = stop_on_signals()
    poller = build_poller(
        settings,
        store,
        licensespring,
        build_web_client(settings),
        metrics=Metrics(licensespring),  # counted for the log's sake; no endpoint here
        management=management,
    )
    retention = asyncio.create_task(build_retention(settings, store).run_forever(stop))
    try:
        await poller.run_forever(stop)
    finally:
        stop.set()
        await retention
        await licensespring.aclose()
        if management is not None:
            await management.aclose()
        await store.close()
