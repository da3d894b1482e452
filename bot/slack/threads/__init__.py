"""Support escalation threads: mentions, the message shortcut and its product picker."""

from __future__ import annotations

from bot.rendering.ids import CallbackId
from bot.slack.core.routes import Routes
from bot.slack.threads.listeners import (
    on_mention,
    on_product_chosen,
    on_shortcut,
    read_mention,
    read_product_chosen,
    read_shortcut,
)


def register(routes: Routes) -> None:
    routes.mention(read_mention, on_mention)
    routes.shortcut(CallbackId.MESSAGE_SHORTCUT, read_shortcut, on_shortcut)
    routes.view(CallbackId.PRODUCT_MODAL, read_product_chosen, on_product_chosen)
