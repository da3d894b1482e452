"""Workflow Builder custom steps."""

from __future__ import annotations

from bot.slack.core.routes import Routes
from bot.slack.steps import lookup_step


def register(routes: Routes) -> None:
    lookup_step.register(routes)
