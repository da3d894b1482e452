"""The App Home tab: publishing it, and its buttons (open the forms, look up again)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.slack.blocks import parse_button_value
from bot.slack.dm_lookup import answer_in_dm, look_up
from bot.slack.home import ACTION_HOME_LOOKUP, ACTION_HOME_WATCH, ACTION_LOOKUP_AGAIN
from bot.slack.home_publish import publish_home
from bot.slack.modal_calls import open_modal
from bot.slack.modal_views import FormOrigin, lookup_modal, watch_modal
from bot.slack.mrkdwn import escape_within

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.apphome")

STALE_HOME_BUTTON = ":warning: That button is out of date; this page has been refreshed."


def register(app: AsyncApp, services: Services) -> None:
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return  # the Messages tab: the answers live there, nothing to publish
        await publish_home(client, services, str(event.get("user", "")))

    async def open_lookup(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        settings = services.settings
        view = lookup_modal(
            settings.licensespring_products,
            settings.default_product,
            FormOrigin(_user(body), "home"),
        )
        await open_modal(client, body, view)

    async def open_watch(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        settings = services.settings
        view = watch_modal(
            settings.licensespring_products,
            settings.default_product,
            FormOrigin(_user(body), "home"),
        )
        await open_modal(client, body, view)

    async def lookup_again(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_lookup_again(body, client, services)

    tracked = services.tasks.listener
    app.event("app_home_opened")(tracked(on_home_opened))
    app.action(ACTION_HOME_LOOKUP)(tracked(open_lookup))
    app.action(ACTION_HOME_WATCH)(tracked(open_watch))
    app.action(ACTION_LOOKUP_AGAIN)(tracked(lookup_again))


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def handle_lookup_again(
    body: dict[str, Any], client: AsyncWebClient, services: Services
) -> None:
    actor = Actor(_user(body), None)
    actions = body.get("actions") or [{}]
    value = actions[0].get("value") if isinstance(actions[0], dict) else None
    try:
        product, email, _ = parse_button_value(str(value or ""))
    except ValueError:
        await publish_home(client, services, actor.slack_user, notice=STALE_HOME_BUTTON)
        return
    who = f"`{escape_within(email, 80)}` in `{escape_within(product, 40)}`"
    await publish_home(
        client,
        services,
        actor.slack_user,
        notice=f":mag: Looking up {who}… the answer comes to your direct messages.",
    )
    outcome, reference = await look_up(services, actor, product, email, surface="home")
    _, notice = await answer_in_dm(client, services, actor, outcome, reference)
    await publish_home(client, services, actor.slack_user, notice=notice)
