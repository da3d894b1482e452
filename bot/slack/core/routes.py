"""Registering listeners: every listener says, through its reader, what its request may do.

A surface module registers with `Routes`, never with the Bolt app directly, so no listener can
be added without a reader for the access policy (`bot.slack.core.policy`); a test checks that
every listener of the app carries exactly one `Guard`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.slack.core.failures import contain
from bot.slack.core.policy import Gate, Guard, Reader, Surface
from bot.tasks import TaskTracker

Listener = Callable[..., Awaitable[None]]


class Routes:
    def __init__(self, app: AsyncApp, gate: Gate, settings: Settings, tasks: TaskTracker) -> None:
        self.app = app
        self._gate = gate
        self._settings = settings
        self._tasks = tasks

    def _guard(self, surface: Surface, read: Reader) -> list[Any]:
        return [Guard(surface, read, self._gate, self._settings)]

    def command(self, name: str, read: Reader, listener: Listener) -> None:
        guard = self._guard(Surface.COMMAND, read)
        self.app.command(name, middleware=guard)(self._tasks.listener(contain(listener)))

    def action(self, action_id: str | re.Pattern[str], read: Reader, listener: Listener) -> None:
        guard = self._guard(Surface.ACTION, read)
        self.app.action(action_id, middleware=guard)(self._tasks.listener(contain(listener)))

    def view(self, callback_id: str, read: Reader, listener: Listener) -> None:
        guard = self._guard(Surface.VIEW, read)
        self.app.view(callback_id, middleware=guard)(self._tasks.listener(contain(listener)))

    def shortcut(self, callback_id: str, read: Reader, listener: Listener) -> None:
        guard = self._guard(Surface.SHORTCUT, read)
        self.app.shortcut(callback_id, middleware=guard)(self._tasks.listener(contain(listener)))

    def mention(self, read: Reader, listener: Listener) -> None:
        guard = self._guard(Surface.MENTION, read)
        self.app.event("app_mention", middleware=guard)(self._tasks.listener(contain(listener)))

    def home_opened(self, read: Reader, listener: Listener) -> None:
        guard = self._guard(Surface.HOME, read)
        self.app.event("app_home_opened", middleware=guard)(self._tasks.listener(contain(listener)))

    def function(self, callback_id: str, read: Reader, listener: Listener) -> None:
        """A Workflow Builder step: its guard never answers (Bolt acks `function_executed` at
        once); it hands the listener `refusal` to end the execution with."""
        guard = self._guard(Surface.STEP, read)
        self.app.function(callback_id, middleware=guard)(self._tasks.listener(listener))
