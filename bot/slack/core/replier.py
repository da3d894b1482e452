"""Answers one request on the surface it came from.

Built per request by the request-context middleware. Privately through the response_url when
the request carried one (commands, buttons, shortcuts), else as an ephemeral message in the
channel (mentions); visibly in the channel through the response_url; as a reply in the
request's thread through `chat.postMessage`; in the person's direct messages; or in a modal
(open, update) and the App Home (publish). Response_url posts reuse the process's kept-alive
session instead of a new connection and TLS handshake per answer.

A response_url lives 30 minutes and takes 5 posts; when Slack refuses or cannot be reached
there is nobody left to tell but the log, so those answers return False instead of raising.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.audit import Actor
from bot.rendering.blocks import Message
from bot.rendering.ids import ChannelError
from bot.slack.core.errors import NotDelivered, NotInChannel

log = structlog.get_logger("slack.replier")


class Replier:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        actor: Actor | None,
        response_url: str | None,
        session: aiohttp.ClientSession | None,
    ) -> None:
        self.client = client
        self.actor = actor
        self.response_url = response_url
        self._session = session

    async def private(self, message: Message, *, replace: bool = False) -> bool:
        """Only the requester sees it; `replace` swaps the message the request came from."""
        if self.response_url:
            return await self._post("ephemeral", message, replace)
        actor = self.actor
        if actor is None or not actor.channel:
            log.warning("private_reply_impossible", reason="no response_url and no channel")
            return False
        try:
            await self.client.chat_postEphemeral(
                channel=actor.channel,
                user=actor.slack_user,
                text=message.text,
                blocks=message.blocks,
                thread_ts=actor.thread_ts,
            )
        except (SlackApiError, OSError) as error:
            log.warning("private_reply_failed", channel=actor.channel, error=_code(error))
            return False
        return True

    async def visible(self, message: Message, *, replace: bool = False) -> bool:
        """Everyone in the channel sees it (through the response_url)."""
        if not self.response_url:
            log.warning("visible_reply_impossible", reason="no response_url")
            return False
        return await self._post("in_channel", message, replace)

    async def in_thread(
        self,
        message: Message,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
        top_level: bool = False,
    ) -> str:
        """Post as a reply in the request's thread (or `thread_ts`, or top level); its ts.

        Raises NotInChannel when Slack will not let the bot post there.
        """
        where = channel or (self.actor.channel if self.actor else None)
        if not where:
            raise NotInChannel(ChannelError.CHANNEL_NOT_FOUND)
        thread = (
            None if top_level else (thread_ts or (self.actor.thread_ts if self.actor else None))
        )
        try:
            response = await self.client.chat_postMessage(
                channel=where,
                thread_ts=thread,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            raise NotInChannel(_code(error)) from None
        return str(response.get("ts", ""))

    async def direct_message(self, message: Message, *, user: str | None = None) -> str:
        """Post in the bot's DM with the requester (or `user`); the DM's channel id.

        Raises NotDelivered with Slack's error code when Slack will not take it.
        """
        user_id = user or (self.actor.slack_user if self.actor else "")
        try:
            opened = await self.client.conversations_open(users=user_id)
            channel = str((opened.get("channel") or {}).get("id", ""))
            await self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            log.warning("dm_refused", error=_code(error))
            raise NotDelivered(_code(error)) from None
        except OSError as error:
            log.warning("dm_unreachable", error=type(error).__name__)
            raise NotDelivered("slack_unreachable") from None
        return channel

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        """views.open: call it before any slow work, as a trigger_id expires 3 s after a click."""
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, OSError) as error:
            log.warning("modal_not_opened", error=_code(error))

    async def update_modal(self, view_id: str, view: dict[str, Any]) -> None:
        try:
            await self.client.views_update(view_id=view_id, view=view)
        except (SlackApiError, OSError) as error:  # closed by the person meanwhile, most often
            log.info("modal_not_updated", error=_code(error))

    async def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        try:
            await self.client.views_publish(user_id=user, view=view)
        except (SlackApiError, OSError) as error:
            log.warning("home_not_published", error=_code(error))
            return False
        return True

    async def _post(self, response_type: str, message: Message, replace: bool) -> bool:
        assert self.response_url is not None
        payload: dict[str, Any] = {
            "text": message.text,
            "blocks": message.blocks or None,
            "response_type": response_type,
            "replace_original": replace,
        }
        try:
            webhook = AsyncWebhookClient(self.response_url, session=self._session)
            response = await webhook.send(**payload)
        except (OSError, aiohttp.ClientError) as error:
            log.warning("response_url_unreachable", error=type(error).__name__)
            return False
        if response.status_code >= 300:
            log.warning(
                "response_url_refused", status=response.status_code, body=response.body[:200]
            )
            return False
        return True


def _code(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error", "unknown_error"))
    return type(error).__name__
