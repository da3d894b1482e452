"""The `/license-users` slash command: its reader (the grammar, once) and its listener."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.config import Settings
from bot.rendering.blocks import shown_search
from bot.rendering.mrkdwn import escape
from bot.rendering.replies import lookup_message, private_buttons
from bot.slack.commands import watch
from bot.slack.core.grammar import (
    HelpRequest,
    InvalidRequest,
    ListWatchesRequest,
    LookupRequest,
    ParsedCommand,
    UnwatchRequest,
    WatchRequest,
    parse_command,
    usage,
)
from bot.slack.core.policy import Understood
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services
from bot.userlist import UserQuery


def read_command(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[ParsedCommand]:
    """The command as the grammar understands it with the product settings; a watch posts its
    alerts visibly in the channel it names, else in the one it was typed in."""
    parsed = parse_command(
        str(body.get("text") or ""),
        products=settings.licensespring_products,
        default_product=settings.default_product,
    )
    channel = actor.channel if actor else None
    posts_in = (parsed.channel or channel) if isinstance(parsed, WatchRequest) else None
    return Understood(parsed, actor.slack_user if actor else None, posts_in)


async def license_users(
    ack: AsyncAck,
    asked: ParsedCommand,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    settings = services.settings
    products = settings.licensespring_products
    if isinstance(asked, HelpRequest):
        await ack(response_type="ephemeral", text=usage(products, settings.default_product))
        return
    if isinstance(asked, InvalidRequest):
        await ack(
            response_type="ephemeral",
            text=f":x: {asked.reason}\n{usage(products, settings.default_product)}",
        )
        return
    if isinstance(asked, WatchRequest | UnwatchRequest | ListWatchesRequest):
        await ack(response_type="ephemeral", text=":hourglass_flowing_sand: One moment…")
        if isinstance(asked, WatchRequest):
            await watch.watch_command(asked, actor, reference, replier, services)
        elif isinstance(asked, UnwatchRequest):
            await watch.unwatch_command(asked, actor, replier, services)
        else:
            await watch.list_command(asked, actor, replier, services)
        return
    assert isinstance(asked, LookupRequest)
    where = ", ".join(f"`{escape(p)}`" for p in asked.products)
    matching = f" matching `{shown_search(asked.search)}`" if asked.search else ""
    await ack(
        response_type="ephemeral",
        text=f":mag: Looking up license users of `{escape(asked.email)}` in {where}{matching}…",
    )
    outcomes = await services.lookups.lookup(
        asked.products,
        asked.email,
        surface="command",
        reference=reference,
        actor=actor,
        query=UserQuery(asked.search),
    )
    message = lookup_message(
        outcomes,
        email=asked.email,
        known_products=products,
        reference=reference,
        buttons=private_buttons(settings, has_store=services.store is not None),
    )
    await replier.private(message, replace=True)
