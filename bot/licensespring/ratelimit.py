"""Client-side rate limiting so no burst trips LicenseSpring's flood limits."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

log = structlog.get_logger("licensespring.ratelimit")

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


class Reserved(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def now(self) -> float: ...
    @property
    def clients(self) -> int: ...


def credential_identity(api_url: str, principal: str) -> str:
    """The bucket's key: a digest of where and as whom requests go (API key or client id).

    LicenseSpring counts per company; one credential is the closest the bot can see. The
    digest keeps the credential itself out of the database.
    """
    digest = hashlib.sha256(f"{api_url.rstrip('/')}\n{principal}".encode()).hexdigest()
    return f"ls:{digest[:32]}"


Reserve = Callable[[int], Awaitable[Reserved]]
"""Take `n` slots from the shared bucket: the first slot's time and the bucket's clock."""


# The shared bucket spaces requests for 98% of the rate: slots are mapped from the
# database's clock onto each process's, and a percent or two of jitter must not go over.
SHARED_RATE_MARGIN = 0.98


class SharedRateLimiter:
    """`rate` requests per second for all processes together, through a shared bucket.

    Each database round trip reserves a few slots (more while requests queue here, at most
    `batch_max`), so a request waits on at most one short query. When the bucket cannot be
    reached within `reserve_timeout_s`, requests go through a per-process limiter at
    `rate / N` (N: the processes seen sharing the bucket in the last minute, or
    `assumed_processes` before any was seen) and the bucket is tried again after
    `retry_after_s`. A slot not used within `stale_after_s` is dropped, never spent late.
    """

    def __init__(
        self,
        rate: float,
        reserve: Reserve,
        *,
        batch_max: int = 4,
        reserve_timeout_s: float = 0.5,
        retry_after_s: float = 5.0,
        assumed_processes: int = 4,
        stale_after_s: float = 0.25,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.slot_rate = rate * SHARED_RATE_MARGIN
        self._reserve = reserve
        self._batch_max = batch_max
        self._reserve_timeout_s = reserve_timeout_s
        self._retry_after_s = retry_after_s
        self._stale_after_s = stale_after_s
        self.processes = assumed_processes
        self._slots: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._queued = 0
        self._fallback: RateLimiter | None = None
        self._retry_at = 0.0
        self.waits = 0
        self.fallbacks = 0  # times the bucket could not be reached

    @property
    def degraded(self) -> bool:
        return self._fallback is not None

    async def acquire(self) -> None:
        self._queued += 1
        try:
            async with self._lock:
                slot = await self._next_slot()
        finally:
            self._queued -= 1
        if slot is None:
            assert self._fallback is not None
            await self._fallback.acquire()
            return
        delay = slot - time.monotonic()
        if delay > 0:
            self.waits += 1
            await asyncio.sleep(delay)

    async def _next_slot(self) -> float | None:
        now = time.monotonic()
        while self._slots and self._slots[0] < now - self._stale_after_s:
            self._slots.popleft()
        if self._slots:
            return self._slots.popleft()
        if self._fallback is not None and now < self._retry_at:
            return None
        count = max(1, min(self._batch_max, self._queued))
        try:
            async with asyncio.timeout(self._reserve_timeout_s):
                reserved = await self._reserve(count)
        except Exception as error:  # noqa: BLE001 - any failure of the bucket: fall back
            self._degrade(error)
            return None
        if self._fallback is not None:
            self._fallback = None
            log.warning("shared_rate_limit_restored", processes=reserved.clients)
        self.processes = reserved.clients
        # Slot times are in the database's clock; map them onto ours.
        offset = time.monotonic() - reserved.now
        interval = 1 / self.slot_rate
        self._slots.extend(reserved.start + offset + i * interval for i in range(count))
        return self._slots.popleft()

    def _degrade(self, error: BaseException) -> None:
        self.fallbacks += 1
        self._retry_at = time.monotonic() + self._retry_after_s
        if self._fallback is None:
            self._fallback = RateLimiter(self.rate / self.processes)
            log.warning(
                "shared_rate_limit_unavailable",
                error=type(error).__name__,
                fallback_rate=round(self.rate / self.processes, 2),
                processes=self.processes,
                retry_in_s=self._retry_after_s,
            )
