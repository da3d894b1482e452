"""Answers through a response_url, with failures logged instead of lost silently."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncRespond
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = structlog.get_logger("slack.delivery")


async def answer(
    respond: AsyncRespond,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    response_type: str = "ephemeral",
    replace_original: bool = False,
    session: aiohttp.ClientSession | None = None,
) -> bool:
    """Post to the response_url; False (and a log event) when Slack refused or was unreachable.

    With `session` (one per process) the post reuses its kept-alive connection to Slack
    instead of a new connection and TLS handshake per answer. A response_url lives 30 minutes
    and takes 5 posts; after that, or when Slack is down, there is nobody left to tell but
    the log.
    """
    try:
        if session is not None and respond.response_url:
            response = await AsyncWebhookClient(respond.response_url, session=session).send(
                text=text,
                blocks=blocks,
                response_type=response_type,
                replace_original=replace_original,
            )
        else:
            response = await respond(
                text=text,
                blocks=blocks,
                response_type=response_type,
                replace_original=replace_original,
            )
    except (OSError, aiohttp.ClientError) as error:
        log.warning("response_url_unreachable", error=type(error).__name__)
        return False
    status = getattr(response, "status_code", 200)
    if status >= 300:
        log.warning(
            "response_url_refused", status=status, body=str(getattr(response, "body", ""))[:200]
        )
        return False
    return True
