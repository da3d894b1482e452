"""Share (visibly in the channel) and Escalate (in the escalation channel, with the list)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.rendering.blocks import (
    PAGE_SIZE,
    Message,
    SummaryButtons,
    page_count,
    render_notice,
    render_summary,
    render_user_page,
)
from bot.slack.answers.state import Asked, Found, audit, found_pressed
from bot.slack.core.errors import (
    NotConfigured,
    NotInChannel,
)
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services

# An escalation thread carries at most this many pages of users; the rest is a note.
MAX_ESCALATION_PAGES = 5

# --- share and escalate ----------------------------------------------------------------------


async def share(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    found = await found_pressed(asked, actor, reference, services, "share")
    shared = _visible_summary(found, actor, "Shared by", show_users=True)
    await replier.visible(shared)
    await audit(services, actor, "share", "posted", found.outcome, reference)


def _visible_summary(found: Found, actor: Actor, verb: str, *, show_users: bool) -> Message:
    """A summary for everyone in a channel: no user list, and who put it there."""
    message = render_summary(
        found.summary,
        lookup_email=found.outcome.email,
        include_users=False,
        buttons=SummaryButtons(share=False, show_users=show_users),
        selection=found.selection,
    )
    return Message(message.text, message.blocks + _attribution(actor, verb))


def _attribution(actor: Actor, verb: str) -> list[dict[str, Any]]:
    if not actor.slack_user.isalnum():
        return []
    where = f" from <#{actor.channel}>" if actor.channel and actor.channel.isalnum() else ""
    return render_notice(f"{verb} <@{actor.slack_user}>{where}").blocks


async def escalate(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    channel = services.settings.escalation_channel_id
    if not channel:
        raise NotConfigured(":x: No escalation channel is configured (ESCALATION_CHANNEL_ID).")
    found = await found_pressed(asked, actor, reference, services, "escalate")
    head = _visible_summary(found, actor, "Escalated by", show_users=False)
    summary, selection = found.summary, found.selection
    pages = page_count(summary, selection)
    try:
        ts = await replier.in_thread(head, channel=channel, top_level=True)
        for number in range(min(pages, MAX_ESCALATION_PAGES)):
            if selection.users:
                user_page = render_user_page(
                    summary, lookup_email=found.outcome.email, page=number, selection=selection
                )
                await replier.in_thread(user_page, channel=channel, thread_ts=ts)
        if pages > MAX_ESCALATION_PAGES:
            rest = selection.count - MAX_ESCALATION_PAGES * PAGE_SIZE
            note = render_notice(
                f"…and {rest:,} more users. Page through them with `/license-users`."
            )
            await replier.in_thread(note, channel=channel, thread_ts=ts)
    except NotInChannel as refused:
        await audit(services, actor, "escalate", refused.code, found.outcome, reference)
        raise
    link = await _permalink(replier.client, channel, ts)
    where = f"<{link}|the escalation>" if link else "the escalation channel"
    await replier.private(
        render_notice(f":rotating_light: Escalated to <#{channel}>: see {where}.")
    )
    await audit(services, actor, "escalate", "posted", found.outcome, reference)


async def _permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    link = response.get("permalink")
    return str(link) if link else None
