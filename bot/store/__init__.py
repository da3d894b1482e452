"""Persistent state on SQLite or PostgreSQL (SQLAlchemy Core, async)."""

from bot.database_url import async_database_url, redact_url
from bot.store.migrations import SCHEMA_VERSION, migrate
from bot.store.store import AuditEntry, Store
from bot.store.watches import CheckResult, OutboxAlert, Watch, WatchRepository

__all__ = [
    "SCHEMA_VERSION",
    "AuditEntry",
    "CheckResult",
    "OutboxAlert",
    "Store",
    "Watch",
    "WatchRepository",
    "async_database_url",
    "migrate",
    "redact_url",
]
