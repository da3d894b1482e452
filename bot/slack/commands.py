"""The `/license-users` slash command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.lookup import new_reference
from bot.slack import watching
from bot.slack.blocks import SummaryButtons, shown_search
from bot.slack.delivery import answer
from bot.slack.mrkdwn import escape
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
from bot.slack.replies import lookup_message
from bot.userlist import UserQuery

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.commands")


def register(app: AsyncApp, services: Services) -> None:
    async def license_users(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await handle_command(ack, command, respond, client, services)

    app.command(COMMAND)(services.tasks.listener(license_users))


async def handle_command(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
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
            await watching.handle_watch(parsed, command, respond, client, services)
        elif isinstance(parsed, UnwatchRequest):
            await watching.handle_unwatch(parsed, command, respond, services)
        else:
            await watching.handle_list(parsed, respond, services)
        return
    assert isinstance(parsed, LookupRequest)
    where = ", ".join(f"`{escape(p)}`" for p in parsed.products)
    matching = f" matching `{shown_search(parsed.search)}`" if parsed.search else ""
    await ack(
        response_type="ephemeral",
        text=f":mag: Looking up license users of `{escape(parsed.email)}` in {where}{matching}…",
    )
    reference = new_reference()
    structlog.contextvars.bind_contextvars(
        reference=reference,
        slack_user=command.get("user_id"),
        channel=command.get("channel_id"),
    )
    actor = Actor(str(command.get("user_id", "")), command.get("channel_id"))
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
        buttons=SummaryButtons(
            share=True,
            escalate=bool(settings.escalation_channel_id),
            watch=services.store is not None,
            list_tools=True,
        ),
    )
    await answer(
        respond,
        text=message.text,
        blocks=message.blocks,
        replace_original=True,
        session=services.http_session,
    )
