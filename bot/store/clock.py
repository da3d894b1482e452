"""The database's clock: one clock for times that different processes write and compare.

A webhook's arrival and the moment a check asked LicenseSpring are recorded by different
processes, perhaps on different hosts; comparing them on either host's clock can misorder
them by the hosts' skew. Both are read from the database instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

# PostgreSQL: the statement's time, not the transaction's (`now()`). SQLite: its own clock,
# in milliseconds (the file has no server, so this is the host's clock).
_POSTGRES_NOW = sa.text("SELECT clock_timestamp()")
_SQLITE_NOW = sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")


async def database_now(conn: AsyncConnection) -> datetime:
    """The database's current time, as an aware UTC datetime."""
    postgres = conn.dialect.name == "postgresql"
    value = await conn.scalar(_POSTGRES_NOW if postgres else _SQLITE_NOW)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
