"""Run modes: HTTP (uvicorn) and Socket Mode, each building its dependencies once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
import uvicorn
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette

from bot.config import ConfigError, Settings
from bot.licensespring.client import LicenseApiClient
from bot.server import create_server
from bot.slack.app import build_web_client, create_app

log = structlog.get_logger("runtime")


def require(settings: Settings, *names: str) -> None:
    """Stop start-up with one line naming the first missing setting."""
    for name in names:
        if getattr(settings, name) is None:
            raise ConfigError(f"configuration error: {name.upper()} is required for this mode")


@dataclass
class BotRuntime:
    app: AsyncApp
    licensespring: LicenseApiClient

    async def aclose(self) -> None:
        await self.licensespring.aclose()


def build_runtime(settings: Settings) -> BotRuntime:
    licensespring = LicenseApiClient.from_settings(settings)
    app = create_app(settings, licensespring=licensespring, web_client=build_web_client(settings))
    return BotRuntime(app=app, licensespring=licensespring)


def build_http_app(settings: Settings) -> Starlette:
    runtime = build_runtime(settings)
    return create_server(runtime.app, on_shutdown=runtime.aclose)


def warn_if_no_licensespring(settings: Settings) -> None:
    if not settings.has_licensespring_credentials:
        log.warning(
            "licensespring_not_configured",
            hint="lookups will answer 'not configured'; set LICENSESPRING_API_KEY and "
            "LICENSESPRING_SHARED_KEY or run the sandbox",
        )


def serve(settings: Settings, host: str, port: int) -> None:
    require(settings, "slack_bot_token", "slack_signing_secret")
    warn_if_no_licensespring(settings)
    server = build_http_app(settings)
    uvicorn.run(
        server,
        host=host,
        port=port,
        log_config=None,  # our structlog set-up already owns the root logger
        access_log=False,
        timeout_graceful_shutdown=20,
        proxy_headers=True,
    )


def socket(settings: Settings) -> None:
    require(settings, "slack_bot_token", "slack_app_token")
    warn_if_no_licensespring(settings)
    asyncio.run(_socket_main(settings))


async def _socket_main(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None
    runtime = build_runtime(settings)
    handler = AsyncSocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
    try:
        log.info("socket_mode_starting")
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.aclose()
