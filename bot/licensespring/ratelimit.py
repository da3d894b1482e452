"""Client-side rate limiting so no burst trips LicenseSpring's flood limits."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Token bucket: `rate` requests per second on average, bursts up to `burst`.

    Waiters are served in arrival order (one lock), so a poll cycle of many lookups spreads
    out evenly instead of stampeding.
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst if burst is not None else int(rate // 4) or 1)
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
