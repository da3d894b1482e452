"""What Slack says about a channel: whether the bot can post alerts there, and who is in it."""

from __future__ import annotations

import asyncio

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.licensespring.cache import SingleFlight, TTLCache
from bot.rendering.ids import CANNOT_SEE_CHANNEL_CODES
from bot.rendering.watches import ChannelProblem

log = structlog.get_logger("slack.channels")

MEMBERS_TTL_S = 60.0
MEMBERS_DEADLINE_S = 5.0
MEMBERS_PAGE = 1_000
MAX_MEMBER_PAGES = 20  # 20,000 members; a larger channel is read no further (fails closed)
MAX_CACHED_CHANNELS = 256


async def channel_problem(client: AsyncWebClient, channel: str) -> ChannelProblem | None:
    """Why the bot could not post alerts in `channel`, or None when it can."""
    if not channel.startswith(("C", "G")):
        return ChannelProblem("not_a_channel", channel)
    try:
        response = await client.conversations_info(channel=channel)
    except SlackApiError as error:
        code = error.response.get("error")
        if code in CANNOT_SEE_CHANNEL_CODES:
            return ChannelProblem("cannot_see", channel)
        return ChannelProblem("slack_error", channel, str(code))
    info = response.get("channel") or {}
    if info.get("is_archived"):
        return ChannelProblem("archived", channel)
    if not info.get("is_member"):
        return ChannelProblem("not_member", channel)
    return None


class ChannelMembers:
    """Who is in a channel, from `conversations.members`, cached for a minute.

    Fails closed: a channel Slack will not list (the bot is not in it, Slack is down or slow)
    has no members, so only a watch's creator may change it meanwhile; that answer is not
    cached. Concurrent questions about one channel share one read.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._cached: TTLCache[str, frozenset[str]] = TTLCache(
            MEMBERS_TTL_S, max_entries=MAX_CACHED_CHANNELS
        )
        self._reads: SingleFlight[str, frozenset[str] | None] = SingleFlight()

    async def is_member(self, channel: str, user: str) -> bool:
        return user in await self.members(channel)

    async def members(self, channel: str) -> frozenset[str]:
        cached = self._cached.get(channel)
        if cached is not None:
            return cached
        members = await self._reads.run(channel, lambda: self._read(channel))
        if members is None:
            return frozenset()
        self._cached.put(channel, members)
        return members

    async def _read(self, channel: str) -> frozenset[str] | None:
        members: set[str] = set()
        cursor: str | None = None
        try:
            async with asyncio.timeout(MEMBERS_DEADLINE_S):
                for _ in range(MAX_MEMBER_PAGES):
                    response = await self._client.conversations_members(
                        channel=channel, limit=MEMBERS_PAGE, cursor=cursor
                    )
                    members.update(str(m) for m in response.get("members") or [])
                    cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                    if not cursor:
                        return frozenset(members)
        except SlackApiError as error:
            log.info("channel_members_unreadable", channel=channel, error=error.response["error"])
            return None
        except (TimeoutError, OSError) as error:
            log.warning("channel_members_unreadable", channel=channel, error=type(error).__name__)
            return None
        log.warning("channel_members_truncated", channel=channel, read=len(members))
        return frozenset(members)
