"""The lookup and watch forms: the global shortcut and the Watch… button that open them, and
their submissions."""

from __future__ import annotations

from bot.rendering.ids import ActionId, CallbackId
from bot.slack.core.routes import Routes
from bot.slack.modals.listeners import (
    on_global_shortcut,
    on_lookup_submitted,
    on_watch_button,
    on_watch_submitted,
    read_lookup_submission,
    read_opener,
    read_watch_button,
    read_watch_submission,
)


def register(routes: Routes) -> None:
    routes.shortcut(CallbackId.GLOBAL_SHORTCUT, read_opener, on_global_shortcut)
    routes.action(ActionId.WATCH, read_watch_button, on_watch_button)
    routes.view(CallbackId.LOOKUP_MODAL, read_lookup_submission, on_lookup_submitted)
    routes.view(CallbackId.WATCH_MODAL, read_watch_submission, on_watch_submitted)
