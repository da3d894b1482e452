"""The `/license-users` slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit import Actor
from bot.rendering.blocks import shown_search
from bot.rendering.mrkdwn import escape
from bot.slack import watchops
from bot.slack.parsing import (
    COMMAND,
    HelpRequest,
    InvalidRequest,
    ListWatchesRequest,
    LookupRequest,
    UnwatchRequest,
    WatchRequest,
    parse_command,
    usage,
)
from bot.slack.replier import Replier
from bot.slack.replies import lookup_message, private_buttons
from bot.slack.services import Services
from bot.tasks import TaskTracker
from bot.userlist import UserQuery


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.command(COMMAND)(tasks.listener(license_users))


async def license_users(
    ack: AsyncAck,
    command: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    settings = services.settings
    products = settings.licensespring_products
    parsed = parse_command(
        command.get("text") or "", products=products, default_product=settings.default_product
    )
    if isinstance(parsed, HelpRequest):
        await ack(response_type="ephemeral", text=usage(products, settings.default_product))
        return
    if isinstance(parsed, InvalidRequest):
        await ack(
            response_type="ephemeral",
            text=f":x: {parsed.reason}\n{usage(products, settings.default_product)}",
        )
        return
    if isinstance(parsed, WatchRequest | UnwatchRequest | ListWatchesRequest):
        await ack(response_type="ephemeral", text=":hourglass_flowing_sand: One moment…")
        if isinstance(parsed, WatchRequest):
            await watchops.watch_command(parsed, actor, reference, replier, services)
        elif isinstance(parsed, UnwatchRequest):
            await watchops.unwatch_command(parsed, actor, replier, services)
        else:
            await watchops.list_command(parsed, replier, services)
        return
    assert isinstance(parsed, LookupRequest)
    where = ", ".join(f"`{escape(p)}`" for p in parsed.products)
    matching = f" matching `{shown_search(parsed.search)}`" if parsed.search else ""
    await ack(
        response_type="ephemeral",
        text=f":mag: Looking up license users of `{escape(parsed.email)}` in {where}{matching}…",
    )
    outcomes = await services.lookups.lookup(
        parsed.products,
        parsed.email,
        surface="command",
        reference=reference,
        actor=actor,
        query=UserQuery(parsed.search),
    )
    message = lookup_message(
        outcomes,
        email=parsed.email,
        known_products=products,
        reference=reference,
        buttons=private_buttons(settings, has_store=services.store is not None),
    )
    await replier.private(message, replace=True)
