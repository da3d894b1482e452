"""The Snooze 24h / Unwatch buttons, on alerts (answered privately) and on the App Home.

Only a watch's creator or a member of its channel may change it (`bot.watches`); anyone else
is told whose watch it is, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.config import Settings
from bot.rendering.blocks import render_notice
from bot.rendering.watches import render_unwatched
from bot.slack.core.context import pressed_value
from bot.slack.core.errors import StaleButton
from bot.slack.core.home import publish_home
from bot.slack.core.policy import Understood
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services
from bot.watches import parse_watch_id

STALE_WATCH_BUTTON = ":warning: That button is no longer valid."


@dataclass(frozen=True, slots=True)
class WatchButton:
    watch_id: int | None  # None: not a watch id the bot wrote
    on_home: bool  # pressed on the App Home (answered there) rather than on an alert


def read_watch_button(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[WatchButton]:
    """The watch a button is about; answered privately (or on the presser's Home)."""
    on_home = (body.get("view") or {}).get("type") == "home"
    asked = WatchButton(parse_watch_id(pressed_value(body)), on_home)
    return Understood(asked, actor.slack_user if actor else None)


async def snooze(
    ack: AsyncAck, asked: WatchButton, actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    change = await services.watches.snooze(actor, _watch_id(asked), services.members)
    await _tell(asked, change.text, actor, replier, services)


async def unwatch(
    ack: AsyncAck, asked: WatchButton, actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    change = await services.watches.remove(actor, _watch_id(asked), services.members)
    text = change.text
    if change.watch is not None and change.changed and not asked.on_home:
        text = render_unwatched(
            product=change.watch.product, customer_email=change.watch.customer_email
        ).text
    await _tell(asked, text, actor, replier, services)


def _watch_id(asked: WatchButton) -> int:
    if asked.watch_id is None:
        raise StaleButton(STALE_WATCH_BUTTON)
    return asked.watch_id


async def _tell(
    asked: WatchButton, text: str, actor: Actor, replier: Replier, services: Services
) -> None:
    if asked.on_home:
        await publish_home(replier, services, actor.slack_user, notice=text)
        return
    await replier.private(render_notice(text))
