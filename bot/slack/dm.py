"""Direct messages to one person: open the conversation, then post."""

from __future__ import annotations

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import Message

log = structlog.get_logger("slack.dm")


class DirectMessageFailed(Exception):
    """Slack would not take the direct message; `code` is Slack's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def send_dm(client: AsyncWebClient, user_id: str, message: Message) -> str:
    """Post `message` in the bot's DM with `user_id`; returns the DM channel id."""
    try:
        opened = await client.conversations_open(users=user_id)
        channel = str((opened.get("channel") or {}).get("id", ""))
        await client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as error:
        code = str(error.response.get("error", "unknown_error"))
        log.warning("dm_refused", slack_user=user_id, error=code)
        raise DirectMessageFailed(code) from None
    except OSError as error:
        log.warning("dm_unreachable", slack_user=user_id, error=type(error).__name__)
        raise DirectMessageFailed("slack_unreachable") from None
    return channel
