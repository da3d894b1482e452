"""create_app: the Bolt AsyncApp with its dependencies injected and listeners registered."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import structlog
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.licensespring.client import LicenseApiClient
from bot.lookup import LookupService, new_reference
from bot.slack import actions, commands
from bot.slack.replies import INTERNAL_ERROR_TEXT

log = structlog.get_logger("slack")


@dataclass(frozen=True, slots=True)
class Services:
    """What listeners need, built once at start-up."""

    settings: Settings
    lookups: LookupService


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
    web_client: AsyncWebClient | None = None,
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
    services = Services(settings=settings, lookups=LookupService(licensespring))
    commands.register(app, services)
    actions.register(app, services)
    app.error(_on_error)
    return app


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
        except Exception as respond_error:
            log.warning("error_reply_failed", reference=reference, error=str(respond_error))
    return BoltResponse(status=200, body="")
