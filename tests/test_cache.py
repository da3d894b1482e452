import asyncio
import time

import pytest

from bot.licensespring.cache import SingleFlight, TTLCache
from bot.licensespring.ratelimit import RateLimiter


def test_ttl_cache_expires_and_evicts(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: TTLCache[str, int] = TTLCache(ttl=10, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts least recently used: b
    assert cache.get("b") is None
    now[0] += 10
    assert cache.get("a") is None
    assert len(cache) == 1


def test_disabled_cache_stores_nothing() -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=0)
    cache.put("a", 1)
    assert cache.get("a") is None


async def test_single_flight_shares_result_and_error() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return 42

    results = await asyncio.gather(*(flights.run("k", work) for _ in range(50)))
    assert results == [42] * 50 and calls == 1

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("x")

    outcomes = await asyncio.gather(
        *(flights.run("e", boom) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert len(flights) == 0


async def test_single_flight_survives_a_cancelled_waiter() -> None:
    flights: SingleFlight[str, int] = SingleFlight()

    async def work() -> int:
        await asyncio.sleep(0.05)
        return 7

    first = asyncio.create_task(flights.run("k", work))
    second = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == 7


async def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(rate=100, burst=1)
    started = time.monotonic()
    for _ in range(11):
        await limiter.acquire()
    elapsed = time.monotonic() - started
    assert elapsed >= 0.09  # 10 waits of 10 ms after the first token
    assert limiter.waits == 10


def test_ttl_cache_drops_expired_entries_on_put_even_if_never_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The alert poller only writes (fresh lookups): stale answers must not pile up."""
    now = [1000.0]
    monkeypatch.setattr("bot.licensespring.cache.time.monotonic", lambda: now[0])
    cache: TTLCache[str, int] = TTLCache(ttl=30, max_entries=256)
    for i in range(100):
        cache.put(f"customer-{i}", i)
        now[0] += 1.0
    assert len(cache) <= 31  # only the last 30 s of answers
    assert cache.get("customer-99") == 99


def test_ttl_cache_is_bounded_by_bytes_too() -> None:
    cache: TTLCache[str, str] = TTLCache(ttl=60, max_entries=100, max_bytes=100)
    cache.put("a", "A", size=40)
    cache.put("b", "B", size=40)
    assert cache.get("a") == "A"  # now b is the least recently used
    cache.put("c", "C", size=40)  # 120 bytes > 100: b goes
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, "A", "C")
    assert cache.bytes == 80
    cache.put("a", "A2", size=10)  # replacing an entry counts its new size only
    assert cache.bytes == 50
    cache.put("huge", "H", size=101)  # larger than the whole budget: not kept, nothing evicted
    assert cache.get("huge") is None
    assert (len(cache), cache.bytes) == (2, 50)


def test_expired_entries_give_their_bytes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: TTLCache[str, int] = TTLCache(ttl=10, max_bytes=100)
    cache.put("a", 1, size=70)
    now[0] += 10
    assert cache.get("a") is None
    cache.put("b", 2, size=70)  # fits: a's 70 bytes were given back
    assert cache.get("b") == 2 and cache.bytes == 70
