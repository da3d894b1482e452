"""The Snooze 24h / Unwatch buttons, on alerts (answered privately) and on the App Home."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit import Actor
from bot.rendering.blocks import render_notice
from bot.rendering.ids import ActionId
from bot.slack.context import pressed_value
from bot.slack.errors import StaleButton
from bot.slack.home_publish import publish_home
from bot.slack.replier import Replier
from bot.slack.services import Services
from bot.slack.watchops import remove_watch, snooze_watch
from bot.tasks import TaskTracker

STALE_WATCH_BUTTON = ":warning: That button is no longer valid."


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.action(ActionId.SNOOZE)(tasks.listener(snooze))
    app.action(ActionId.UNWATCH)(tasks.listener(unwatch))


async def snooze(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    text = await snooze_watch(services, actor, _watch_id(body))
    await _tell(body, text, actor, replier, services)


async def unwatch(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    text = await remove_watch(services, actor, _watch_id(body))
    await _tell(body, text, actor, replier, services)


def _watch_id(body: dict[str, Any]) -> int:
    value = pressed_value(body)
    if not value.isdigit():
        raise StaleButton(STALE_WATCH_BUTTON)
    return int(value)


async def _tell(
    body: dict[str, Any], text: str, actor: Actor, replier: Replier, services: Services
) -> None:
    if (body.get("view") or {}).get("type") == "home":
        await publish_home(replier, services, actor.slack_user, notice=text)
        return
    await replier.private(render_notice(text))
