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
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("store.ratebucket")

CLIENT_WINDOW_S: Final = 60.0  # a process that reserved within this long counts as sharing
_FORGET_CLIENTS_AFTER_S: Final = 3600.0  # processes gone this long are deleted
# Each process holds at most a few reserved slots, so a healthy bucket is at most a few
# seconds ahead of the clock. Further ahead, the database's clock went back: the bucket is
# reset to the clock and this reservation refused, so the process uses its per-process limit
# for a while instead of waiting minutes for a slot.
MAX_AHEAD_S: Final = 10.0

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
    before AS (SELECT tat FROM rate_buckets WHERE credential = :credential),
    bucket AS (
        INSERT INTO rate_buckets AS b (credential, tat)
        SELECT :credential, clock.now + :cost FROM clock
        ON CONFLICT (credential) DO UPDATE
            SET tat = CASE
                WHEN b.tat > (SELECT now FROM clock) + :max_ahead THEN (SELECT now FROM clock)
                ELSE greatest(b.tat, (SELECT now FROM clock))
            END + :cost
        RETURNING b.tat
    )
    SELECT bucket.tat - :cost AS start, clock.now AS now,
        (SELECT tat FROM before) - clock.now AS ahead,
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


class ClockSteppedBack(Exception):
    """The bucket was far ahead of the database's clock (now reset); use the fallback."""

    def __init__(self, ahead_s: float) -> None:
        super().__init__(f"the shared rate bucket was {ahead_s:.0f} s ahead of the clock")
        self.ahead_s = ahead_s


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
                        "max_ahead": MAX_AHEAD_S,
                    },
                )
            ).one()
        if row.ahead is not None and float(row.ahead) > MAX_AHEAD_S:
            log.warning(
                "rate_bucket_ahead_of_clock",
                ahead_s=round(float(row.ahead), 1),
                detail="the database's clock went back; the bucket is reset to it and this "
                "process uses its own limit until the next try",
            )
            raise ClockSteppedBack(float(row.ahead))
        return Reservation(float(row.start), float(row.now), max(int(row.clients), 1))
