"""Client-side rate limiting so no burst trips LicenseSpring's flood limits."""

from __future__ import annotations

import asyncio
import time

FLOOD_LIMIT_PER_S = 50  # LicenseSpring's, per Authorization value; it cannot be raised


class RateLimiter:
    """Token bucket: `rate` requests per second on average, bursts up to `burst`.

    Waiters are served in arrival order (one lock), so a poll cycle of many lookups spreads
    out evenly instead of stampeding.
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # Any one second sees at most rate + burst requests: keep that under the flood limit.
        default_burst = min(int(rate // 4), int(FLOOD_LIMIT_PER_S - rate))
        self.burst = max(1, burst if burst is not None else default_burst)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()
        self.waits = 0
        self.waited_s = 0.0

    async def acquire(self) -> None:
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                self.waits += 1
                self.waited_s += delay
                await asyncio.sleep(delay)
                self._updated = time.monotonic()
                self._tokens = 0.0
            else:
                self._tokens -= 1
