"""Gather one person's App Home (recent lookups, watches) from the store and publish it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError

from bot.rendering.home import (
    MAX_HOME_LOOKUPS,
    MAX_HOME_WATCHES,
    HomeContent,
    RecentLookup,
    render_home,
)
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services
from bot.store import AuditEntry

log = structlog.get_logger("slack.home")

# The person's newest audit rows read per Home open: their recent lookups and the channels
# they used the bot in (whose watches they see) both come from these.
AUDIT_ROWS_READ = 200
STORE_DEADLINE_S = 5.0


def recent_lookups(entries: list[AuditEntry], limit: int = MAX_HOME_LOOKUPS) -> list[RecentLookup]:
    """Pure: newest first, one row per product and customer (paging a reply is no new lookup)."""
    seen: set[tuple[str, str]] = set()
    found: list[RecentLookup] = []
    for entry in entries:
        if entry.action != "lookup" or not entry.product or not entry.customer_email:
            continue
        key = (entry.product, entry.customer_email.casefold())
        if key in seen:
            continue
        seen.add(key)
        found.append(RecentLookup(entry.product, entry.customer_email, entry.at, entry.outcome))
        if len(found) >= limit:
            break
    return found


def channels_used(entries: list[AuditEntry]) -> list[str]:
    """Pure: the channels (not DMs) the person used the bot in, newest first."""
    channels: list[str] = []
    for entry in entries:
        channel = entry.channel
        if channel and channel.startswith(("C", "G")) and channel not in channels:
            channels.append(channel)
    return channels


async def home_content(services: Services, user_id: str, notice: str | None) -> HomeContent:
    now = datetime.now(UTC)
    store = services.store
    if store is None:
        return HomeContent((), (), 0, now, store_available=False, notice=notice)
    try:
        async with asyncio.timeout(STORE_DEADLINE_S):
            entries = await store.recent_audit(user_id, limit=AUDIT_ROWS_READ)
            watches, total = await store.watches.for_user(
                user_id, channels_used(entries), limit=MAX_HOME_WATCHES
            )
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        log.warning("home_store_unavailable", error=type(error).__name__)
        return HomeContent((), (), 0, now, store_available=False, notice=notice)
    return HomeContent(recent_lookups(entries), watches, total, now, notice=notice)


async def publish_home(
    replier: Replier, services: Services, user_id: str, *, notice: str | None = None
) -> bool:
    """Publish `user_id`'s App Home; `notice` (the bot's mrkdwn) says what just happened."""
    content = await home_content(services, user_id, notice)
    return await replier.publish_home(user_id, render_home(content))
