"""The App Home tab: publishing it, and its buttons (open the forms, look up again)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit import Actor
from bot.rendering.blocks import parse_state_value
from bot.rendering.ids import ActionId
from bot.rendering.mrkdwn import escape_within
from bot.slack.context import pressed_value
from bot.slack.dm_lookup import answer_in_dm
from bot.slack.home_publish import publish_home
from bot.slack.modal_views import FormOrigin, lookup_modal, watch_modal
from bot.slack.replier import Replier
from bot.slack.services import Services
from bot.tasks import TaskTracker

STALE_HOME_BUTTON = ":warning: That button is out of date; this page has been refreshed."


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.event("app_home_opened")(tasks.listener(on_home_opened))
    app.action(ActionId.HOME_LOOKUP)(tasks.listener(open_lookup))
    app.action(ActionId.HOME_WATCH)(tasks.listener(open_watch))
    app.action(ActionId.LOOKUP_AGAIN)(tasks.listener(lookup_again))


async def on_home_opened(
    event: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab: the answers live there, nothing to publish
    await publish_home(replier, services, actor.slack_user)


async def open_lookup(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    settings = services.settings
    view = lookup_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(actor.slack_user, "home"),
    )
    await replier.open_modal(str(body.get("trigger_id", "")), view)


async def open_watch(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    settings = services.settings
    view = watch_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(actor.slack_user, "home"),
    )
    await replier.open_modal(str(body.get("trigger_id", "")), view)


async def lookup_again(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    """Run a recent lookup again; the answer goes to the person's DM, the Home says so."""
    await ack()
    try:
        asked = parse_state_value(pressed_value(body))
    except ValueError:
        await publish_home(replier, services, actor.slack_user, notice=STALE_HOME_BUTTON)
        return
    who = f"`{escape_within(asked.email, 80)}` in `{escape_within(asked.product, 40)}`"
    await publish_home(
        replier,
        services,
        actor.slack_user,
        notice=f":mag: Looking up {who}… the answer comes to your direct messages.",
    )
    outcomes = await services.lookups.lookup(
        (asked.product,), asked.email, surface="home", reference=reference, actor=actor
    )
    _, notice = await answer_in_dm(replier, services, outcomes[0], reference)
    await publish_home(replier, services, actor.slack_user, notice=notice)
