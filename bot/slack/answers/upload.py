"""Send a file to a user's direct message with the bot.

`conversations.open` gives the DM channel (`im:write`), then slack-sdk's `files_upload_v2`
runs `files.getUploadURLExternal`, POSTs the bytes to the URL it returned and finishes with
`files.completeUploadExternal` (`files:write`). The retired `files.upload` is never used.
"""

from __future__ import annotations

import asyncio

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.rendering.ids import ChannelError
from bot.rendering.mrkdwn import escape
from bot.slack.core.errors import NotDelivered

log = structlog.get_logger("slack.upload")

UPLOAD_REFUSED = "upload_refused"  # Slack's upload URL did not take the bytes
SLACK_UNREACHABLE = "slack_unreachable"
UPLOAD_TIMEOUT = "upload_timeout"


class UploadFailed(NotDelivered):
    """Slack did not take the file; the text says what to do, in one line."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.text = _upload_hint(code)

    @property
    def hint(self) -> str:
        return self.text


def _upload_hint(code: str) -> str:
    if code == "missing_scope":
        return (
            ":warning: I can't send you files yet: the app lacks the `files:write` or "
            "`im:write` scope. Ask whoever runs the bot to reinstall it from `manifest.yml`."
        )
    if code in {"not_allowed_token_type", "invalid_auth", "not_authed"}:
        return (
            f":warning: Slack does not let this bot's token upload files (`{escape(code)}`). "
            "Ask whoever runs the bot to set `SLACK_BOT_TOKEN` to the app's bot token "
            "(`xoxb-…`)."
        )
    if code == UPLOAD_REFUSED:
        return ":warning: Slack refused the file upload. Try again in a minute."
    if code in {UPLOAD_TIMEOUT, SLACK_UNREACHABLE}:
        return ":hourglass: Slack did not take the file in time. Try again in a minute."
    return (
        f":warning: Slack refused the export (`{escape(code)}`). Try again; if it keeps "
        "happening, tell whoever runs the bot."
    )


async def upload_to_dm(
    client: AsyncWebClient,
    user_id: str,
    *,
    filename: str,
    content: bytes,
    comment: str,
    deadline_s: float,
) -> str:
    """Upload `content` as `filename` into `user_id`'s DM with the bot; returns the file id.

    Raises UploadFailed with Slack's error code (or one of this module's) on any failure.
    """
    try:
        async with asyncio.timeout(deadline_s):
            opened = await client.conversations_open(users=user_id)
            channel = str((opened.get("channel") or {}).get("id", ""))
            if not channel:
                raise UploadFailed(ChannelError.CHANNEL_NOT_FOUND)
            done = await client.files_upload_v2(
                channel=channel,
                filename=filename,
                title=filename,
                content=content,
                initial_comment=comment,
            )
    except SlackApiError as error:
        code = str(error.response.get("error") or "unknown_error")
        log.warning("upload_failed", code=code, filename=filename)
        raise UploadFailed(code) from None
    except SlackRequestError as error:
        log.warning("upload_failed", code=UPLOAD_REFUSED, detail=str(error)[:200])
        raise UploadFailed(UPLOAD_REFUSED) from None
    except TimeoutError:
        log.warning("upload_failed", code=UPLOAD_TIMEOUT, filename=filename)
        raise UploadFailed(UPLOAD_TIMEOUT) from None
    except (OSError, aiohttp.ClientError) as error:
        log.warning("upload_failed", code=SLACK_UNREACHABLE, error=type(error).__name__)
        raise UploadFailed(SLACK_UNREACHABLE) from None
    file = done.get("file") or {}
    return str(file.get("id", "")) if isinstance(file, dict) else ""
