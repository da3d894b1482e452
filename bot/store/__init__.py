"""Persistent state on SQLite or PostgreSQL (SQLAlchemy Core, async)."""

from bot.store.migrations import SCHEMA_VERSION, migrate
from bot.store.store import AuditEntry, Store
from bot.store.urls import async_database_url, redact_url

__all__ = [
    "SCHEMA_VERSION",
    "AuditEntry",
    "Store",
    "async_database_url",
    "migrate",
    "redact_url",
]
