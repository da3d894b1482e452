"""Snooze and Unwatch, on alerts and on the App Home."""

from __future__ import annotations

from bot.rendering.ids import ActionId
from bot.slack.core.routes import Routes
from bot.slack.watches.listeners import read_watch_button, snooze, unwatch


def register(routes: Routes) -> None:
    routes.action(ActionId.SNOOZE, read_watch_button, snooze)
    routes.action(ActionId.UNWATCH, read_watch_button, unwatch)
