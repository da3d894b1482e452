"""The App Home tab: publishing it, and its buttons (open the forms, look up again)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.config import Settings
from bot.rendering.blocks import ListState, parse_state_value
from bot.rendering.metadata import FormOrigin
from bot.rendering.modals import lookup_modal, watch_modal
from bot.rendering.mrkdwn import escape_within
from bot.slack.core.context import pressed_value
from bot.slack.core.dm import answer_in_dm
from bot.slack.core.home import publish_home
from bot.slack.core.policy import Understood
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services

STALE_HOME_BUTTON = ":warning: That button is out of date; this page has been refreshed."


def read_home_opened(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[bool]:
    """True for the Home tab; the Messages tab publishes nothing, so it needs no check."""
    home = (body.get("event") or {}).get("tab") == "home"
    return Understood(home, actor.slack_user if actor else None, checked=home)


def read_home_button(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[str]:
    """Look up, Watch a customer…: they open a form for the presser only."""
    return Understood(str(body.get("trigger_id", "")), actor.slack_user if actor else None)


def read_lookup_again(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[ListState | None]:
    """A recent lookup to run again (its answer goes to the presser's DM); None if stale."""
    try:
        state: ListState | None = parse_state_value(pressed_value(body))
    except ValueError:
        state = None
    return Understood(state, actor.slack_user if actor else None)


async def on_home_opened(asked: bool, actor: Actor, replier: Replier, services: Services) -> None:
    if not asked:
        return  # the Messages tab: the answers live there, nothing to publish
    await publish_home(replier, services, actor.slack_user)


async def open_lookup(
    ack: AsyncAck, asked: str, actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    settings = services.settings
    view = lookup_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(user=actor.slack_user, origin="home"),
    )
    await replier.open_modal(asked, view)


async def open_watch(
    ack: AsyncAck, asked: str, actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    settings = services.settings
    view = watch_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(user=actor.slack_user, origin="home"),
    )
    await replier.open_modal(asked, view)


async def lookup_again(
    ack: AsyncAck,
    asked: ListState | None,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    """Run a recent lookup again; the answer goes to the person's DM, the Home says so."""
    await ack()
    if asked is None:
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
