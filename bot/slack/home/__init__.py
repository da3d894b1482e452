"""The App Home tab and its buttons."""

from __future__ import annotations

from bot.rendering.ids import ActionId
from bot.slack.core.routes import Routes
from bot.slack.home.listeners import (
    lookup_again,
    on_home_opened,
    open_lookup,
    open_watch,
    read_home_button,
    read_home_opened,
    read_lookup_again,
)


def register(routes: Routes) -> None:
    routes.home_opened(read_home_opened, on_home_opened)
    routes.action(ActionId.HOME_LOOKUP, read_home_button, open_lookup)
    routes.action(ActionId.HOME_WATCH, read_home_button, open_watch)
    routes.action(ActionId.LOOKUP_AGAIN, read_lookup_again, lookup_again)
