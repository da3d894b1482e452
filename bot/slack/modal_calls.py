"""Opening and updating modals, with Slack's refusals logged instead of raised."""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger("slack.modals")


async def open_modal(client: AsyncWebClient, body: dict[str, Any], view: dict[str, Any]) -> None:
    """views.open with the interaction's trigger_id: call it before any slow work, as the
    trigger_id expires 3 s after the click."""
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)
    except SlackApiError as error:
        log.warning("modal_not_opened", error=error.response.get("error"))


async def update_modal(client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> None:
    try:
        await client.views_update(view_id=view_id, view=view)
    except SlackApiError as error:  # closed by the person meanwhile, most often
        log.info("modal_not_updated", error=error.response.get("error"))
