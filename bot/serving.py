"""What the HTTP routes need from the running bot, as a protocol.

`bot.runtime.Runtime` satisfies it; the routes (`bot.server`, `bot.webhooks.endpoint`) depend
only on this, so the runtime that builds the server is not imported back by it.
"""

from __future__ import annotations

from typing import Protocol

from slack_bolt.async_app import AsyncApp

from bot.config import Settings
from bot.metrics import Metrics
from bot.store import Store
from bot.tasks import TaskTracker


class Served(Protocol):
    settings: Settings
    app: AsyncApp
    store: Store
    tasks: TaskTracker
    metrics: Metrics
    webhooks_purged_at: float  # when the webhook event ids were last purged (monotonic)

    async def aclose(self) -> None: ...
