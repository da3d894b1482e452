"""The rate limit shared by every process through PostgreSQL, and its per-process fallback."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import pytest

from bot.licensespring.ratelimit import (
    SHARED_RATE_MARGIN,
    SharedRateLimiter,
    credential_identity,
)
from bot.store import Store
from bot.store.ratebucket import RateBucketRepository, Reservation


@dataclass
class Slots:
    start: float
    now: float
    clients: int


class FakeBucket:
    """A bucket in this process's clock; `broken` makes it fail like a dead database."""

    def __init__(self, rate: float, clients: int = 1) -> None:
        self.rate = rate
        self.tat = 0.0
        self.calls: list[int] = []
        self.broken = False
        self.clients = clients

    async def reserve(self, count: int) -> Slots:
        self.calls.append(count)
        await asyncio.sleep(0.002)  # a round trip
        if self.broken:
            raise OSError("connection refused")
        now = time.monotonic()
        cost = count / (self.rate * SHARED_RATE_MARGIN)
        self.tat = max(self.tat, now) + cost
        return Slots(self.tat - cost, now, self.clients)


async def test_requests_keep_to_the_rate_and_batch_while_they_queue() -> None:
    bucket = FakeBucket(rate=50)
    limiter = SharedRateLimiter(50, bucket.reserve, batch_max=4)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(50)))
    elapsed = time.monotonic() - started
    assert 0.85 <= elapsed <= 3.0  # 50 slots at 50/s: the last one about 1 s in
    assert sum(bucket.calls) >= 50
    assert len(bucket.calls) <= 20  # several slots per round trip
    assert max(bucket.calls) == 4


async def test_an_unreachable_bucket_falls_back_to_a_share_of_the_rate_then_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = FakeBucket(rate=40, clients=4)
    limiter = SharedRateLimiter(40, bucket.reserve, retry_after_s=0.3)
    await limiter.acquire()
    assert limiter.processes == 4
    bucket.broken = True
    started = time.monotonic()
    for _ in range(6):
        await limiter.acquire()  # never raises: lookups go on
    assert limiter.degraded and limiter.fallbacks >= 1
    # 40/s over 4 processes = 10/s for this one (plus its burst of 2)
    assert time.monotonic() - started >= 0.25
    calls_while_broken = len(bucket.calls)
    bucket.broken = False
    await asyncio.sleep(0.35)
    await limiter.acquire()
    assert not limiter.degraded
    assert len(bucket.calls) == calls_while_broken + 1  # retried once, after retry_after_s


async def test_a_slow_bucket_counts_as_unreachable() -> None:
    async def hang(count: int) -> Slots:
        await asyncio.sleep(5)
        raise AssertionError("not reached")

    limiter = SharedRateLimiter(20, hang, reserve_timeout_s=0.05)
    started = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - started < 1.0
    assert limiter.degraded


def test_the_bucket_key_is_a_digest_never_the_credential() -> None:
    key = credential_identity("https://api.licensespring.com/", "my-api-key")
    assert key.startswith("ls:") and "my-api-key" not in key
    assert key == credential_identity("https://api.licensespring.com", "my-api-key")
    assert key != credential_identity("https://api.licensespring.com", "other-key")


@pytest.mark.postgres
async def test_processes_sharing_a_bucket_in_postgresql_keep_to_one_rate() -> None:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.skip("PostgreSQL not available: set TEST_DATABASE_URL")
    from tests.conftest import _reset_postgres

    if await _reset_postgres(url) is not None:
        pytest.skip("PostgreSQL not available")
    stores = [await Store.open(url) for _ in range(3)]
    try:
        rate = 30.0
        limiters = []
        for index, store in enumerate(stores):
            bucket = RateBucketRepository(store.engine)

            async def reserve(
                count: int, bucket: RateBucketRepository = bucket, i: int = index
            ) -> Reservation:
                slot_rate = rate * SHARED_RATE_MARGIN
                return await bucket.reserve("ls:test", f"p{i}", count=count, rate=slot_rate)

            limiters.append(SharedRateLimiter(rate, reserve))
        stamps: list[float] = []

        async def hammer(limiter: SharedRateLimiter, until: float) -> None:
            while time.monotonic() < until:
                await limiter.acquire()
                stamps.append(time.monotonic())

        until = time.monotonic() + 2.0
        await asyncio.gather(*(hammer(lim, until) for lim in limiters for _ in range(4)))
        stamps.sort()
        window = stamps[-1] - stamps[0]
        achieved = (len(stamps) - 1) / window
        assert achieved <= rate, achieved
        assert achieved >= rate * 0.75, achieved  # the slots are used, not wasted
        assert {limiter.processes for limiter in limiters} == {3}
    finally:
        for store in stores:
            await store.close()


def test_the_bucket_needs_postgresql(tmp_path: object) -> None:
    async def run() -> None:
        store = await Store.open(f"sqlite:///{tmp_path}/x.db")
        try:
            with pytest.raises(ValueError, match="PostgreSQL"):
                RateBucketRepository(store.engine)
        finally:
            await store.close()

    asyncio.run(run())


@pytest.mark.postgres
async def test_the_bucket_counts_recent_processes_and_forgets_old_ones() -> None:
    import sqlalchemy as sa

    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.skip("PostgreSQL not available: set TEST_DATABASE_URL")
    from tests.conftest import _reset_postgres

    if await _reset_postgres(url) is not None:
        pytest.skip("PostgreSQL not available")
    store = await Store.open(url)
    try:
        bucket = RateBucketRepository(store.engine)
        first = await bucket.reserve("ls:k", "a", count=1, rate=10)
        assert first.clients == 1
        await bucket.reserve("ls:k", "b", count=1, rate=10)
        await bucket.reserve("ls:other", "c", count=1, rate=10)  # another credential
        async with store.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO rate_bucket_clients VALUES "
                    "('ls:k', 'gone', :t), ('ls:k', 'idle', :u)"
                ),
                {"t": first.now - 7200, "u": first.now - 120},
            )
        third = await bucket.reserve("ls:k", "a", count=2, rate=10)
        assert third.clients == 2  # a and b; idle is too old to count, gone is deleted
        assert third.start >= first.start + 0.2 - 1e-6  # b's slot came between
        async with store.engine.connect() as conn:
            names = set(
                (
                    await conn.execute(
                        sa.text("SELECT client FROM rate_bucket_clients WHERE credential = 'ls:k'")
                    )
                ).scalars()
            )
        assert names == {"a", "b", "idle"}
    finally:
        await store.close()


@pytest.mark.postgres
async def test_lookups_keep_working_when_the_database_clock_is_120_s_behind(
    sandbox_url: str,
) -> None:
    """The bucket's time is the database's: if its clock steps back two minutes, the bucket
    is two minutes ahead of it. Lookups must not wait for that: the bucket is reset, and
    meanwhile the process keeps to its own share of the rate."""
    import sqlalchemy as sa
    from structlog.testing import capture_logs

    from bot.runtime import build_licensespring_client
    from bot.sandbox import seed
    from bot.store.ratebucket import MAX_AHEAD_S
    from tests.conftest import _reset_postgres, sandbox_settings

    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.skip("PostgreSQL not available: set TEST_DATABASE_URL")
    if await _reset_postgres(url) is not None:
        pytest.skip("PostgreSQL not available")
    store = await Store.open(url)
    client = build_licensespring_client(sandbox_settings(sandbox_url, database_url=url), store)
    try:
        await client.lookup("acme-desktop", seed.TYPICAL, fresh=True)
        async with store.engine.begin() as conn:  # as if the clock had just gone back 120 s
            await conn.execute(
                sa.text("UPDATE rate_buckets SET tat = extract(epoch FROM clock_timestamp()) + 120")
            )
        started = time.monotonic()
        with capture_logs() as logs:
            for _ in range(5):
                answer = await client.lookup("acme-desktop", seed.TYPICAL, fresh=True, deadline_s=5)
                assert answer.answer.users
        took_s = time.monotonic() - started
        print(f"\ndatabase clock 120 s behind: 5 lookups in {took_s:.2f} s")
        assert took_s < 5.0
        events = [entry["event"] for entry in logs]
        assert "rate_bucket_ahead_of_clock" in events
        assert "shared_rate_limit_unavailable" in events  # the per-process limit, logged
        async with store.engine.connect() as conn:
            ahead = await conn.scalar(
                sa.text("SELECT tat - extract(epoch FROM clock_timestamp()) FROM rate_buckets")
            )
        assert ahead is not None and float(ahead) < MAX_AHEAD_S  # reset to the clock
    finally:
        await client.aclose()
        await store.close()
