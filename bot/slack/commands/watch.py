"""The `watch`, `unwatch` and `watches` subcommands of `/license-users`."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from bot.audit import Actor
from bot.rendering.blocks import render_notice
from bot.rendering.mrkdwn import escape
from bot.rendering.watches import (
    NO_STORE_TEXT,
    not_in_channel_text,
    render_watch_list,
    stopped_text,
)
from bot.slack.core.channels import channel_problem
from bot.slack.core.errors import BadInput, NotConfigured
from bot.slack.core.grammar import (
    DEFAULT_THRESHOLD_PCT,
    ListWatchesRequest,
    UnwatchRequest,
    WatchRequest,
)
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services


async def watch_command(
    request: WatchRequest, actor: Actor, reference: str, replier: Replier, services: Services
) -> None:
    result = await services.watches.create(
        actor,
        reference=reference,
        product=request.product,
        email=request.email,
        channel=request.channel or actor.channel or "",
        threshold_pct=request.threshold_pct or DEFAULT_THRESHOLD_PCT,
        check_channel=partial(channel_problem, replier.client),
    )
    await replier.private(render_notice(result.text), replace=True)


async def unwatch_command(
    request: UnwatchRequest, actor: Actor, replier: Replier, services: Services
) -> None:
    if services.store is None:
        raise NotConfigured(f":x: {NO_STORE_TEXT}")
    if request.watch_id is not None:
        change = await services.watches.remove(actor, request.watch_id, services.members)
        if change.outcome == "gone":
            raise BadInput(f":x: No watch {request.watch_id}. See `/license-users watches`.")
        if not change.changed:
            raise BadInput(change.text)
        await replier.private(render_notice(change.text), replace=True)
        return
    assert request.email is not None
    removed = await services.watches.remove_in_channel(actor, request.email, actor.channel or "")
    if not removed:
        raise BadInput(
            f":x: No watch of `{escape(request.email)}` in this channel. "
            "See `/license-users watches`."
        )
    await replier.private(render_notice(stopped_text(removed)), replace=True)


async def list_command(
    request: ListWatchesRequest, actor: Actor, replier: Replier, services: Services
) -> None:
    if services.store is None:
        raise NotConfigured(f":x: {NO_STORE_TEXT}")
    channel = request.channel
    visible = await services.watches.visible(actor, channel, services.members)
    if channel is not None and visible.hidden and not visible.watches:
        raise BadInput(not_in_channel_text(channel))
    message = render_watch_list(
        visible.watches, channel=channel, now=datetime.now(UTC), hidden=visible.hidden
    )
    await replier.private(message, replace=True)
