"""Buttons on a lookup's answer: pages, filter, show users, export, share, escalate, try again."""

from __future__ import annotations

from bot.rendering.ids import SHOW_USERS_PATTERN, ActionId
from bot.slack.answers.export import export
from bot.slack.answers.paging import page, retry, retry_in_thread, show_users
from bot.slack.answers.sharing import escalate, share
from bot.slack.answers.state import read_escalation, read_in_channel, read_private
from bot.slack.core.routes import Routes


def register(routes: Routes) -> None:
    routes.action(ActionId.RETRY, read_private, retry)
    routes.action(ActionId.RETRY_THREAD, read_in_channel, retry_in_thread)
    routes.action(ActionId.PAGE_PREV, read_private, page)
    routes.action(ActionId.PAGE_NEXT, read_private, page)
    routes.action(ActionId.FILTER, read_private, page)  # a filter re-renders page 0 in place
    routes.action(SHOW_USERS_PATTERN, read_private, show_users)
    routes.action(ActionId.SHARE, read_in_channel, share)
    routes.action(ActionId.ESCALATE, read_escalation, escalate)
    routes.action(ActionId.EXPORT, read_private, export)
