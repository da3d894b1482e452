"""What listeners need, built once at start-up by `create_app` and put in every request context."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bot.audit import Auditor
from bot.config import Settings
from bot.lookup import LookupService
from bot.store import Store
from bot.tasks import TaskTracker
from bot.watches import Membership, WatchLifecycle


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    lookups: LookupService
    auditor: Auditor
    store: Store | None
    tasks: TaskTracker
    watches: WatchLifecycle
    members: Membership  # who is in a channel (watch ownership)
    http_session: aiohttp.ClientSession | None = None  # response_url posts, kept alive
