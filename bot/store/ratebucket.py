"""One token bucket per LicenseSpring credential in PostgreSQL, shared by every process.

GCRA ("theoretical arrival time"): taking `n` tokens moves the bucket's `tat` on by
`n / rate`; the tokens are the `n` slots just before the new `tat`, `1 / rate` apart, in
the database's clock. One statement per reservation (an upsert, also noting which process
asked, so the fallback knows how many processes share the credential, and forgetting processes gone
for an hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

CLIENT_WINDOW_S: Final = 60.0  # a process that reserved within this long counts as sharing
_FORGET_CLIENTS_AFTER_S: Final = 3600.0  # processes gone this long are deleted

_RESERVE = sa.text(
    """
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
    seen AS (
        INSERT INTO rate_bucket_clients (credential, client, seen_at)
        SELECT :credential, :client, clock.now FROM clock
        ON CONFLICT (credential, client) DO UPDATE SET seen_at = EXCLUDED.seen_at
        RETURNING 1
    ),
    forgotten AS (
        DELETE FROM rate_bucket_clients c
        WHERE c.credential = :credential AND c.client <> :client
          AND c.seen_at < (SELECT now FROM clock) - :forget
        RETURNING 1
    ),
    bucket AS (
        INSERT INTO rate_buckets AS b (credential, tat)
        SELECT :credential, clock.now + :cost FROM clock
        ON CONFLICT (credential) DO UPDATE
            SET tat = greatest(b.tat, (SELECT now FROM clock)) + :cost
        RETURNING b.tat
    )
    SELECT bucket.tat - :cost AS start, clock.now AS now,
        (SELECT count(*) FROM rate_bucket_clients c
          WHERE c.credential = :credential AND c.seen_at > clock.now - :window) AS clients
    FROM bucket, clock
    """
)


@dataclass(frozen=True, slots=True)
class Reservation:
    start: float  # the first slot, database epoch seconds
    now: float  # the database's clock when the slots were taken
    clients: int  # processes that used this bucket within CLIENT_WINDOW_S (this one excluded
    # on its very first reservation)


class RateBucketRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the shared rate limit needs PostgreSQL")
        self._engine = engine

    async def reserve(
        self, credential: str, client: str, *, count: int, rate: float
    ) -> Reservation:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    _RESERVE,
                    {
                        "credential": credential,
                        "client": client,
                        "cost": count / rate,
                        "window": CLIENT_WINDOW_S,
                        "forget": _FORGET_CLIENTS_AFTER_S,
                    },
                )
            ).one()
        return Reservation(float(row.start), float(row.now), max(int(row.clients), 1))
