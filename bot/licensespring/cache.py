"""Lookup sharing: a small TTL cache and single-flight for concurrent identical lookups."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries live `ttl` seconds; the least recently used go first beyond `max_entries`."""

    def __init__(self, ttl: float, max_entries: int = 256) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if time.monotonic() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        self._entries[key] = (now + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        # Expired entries go too, not only when read: a writer that never reads (the alert
        # poller's fresh lookups) would otherwise hold up to `max_entries` stale answers.
        # From the least recently used end, up to the first live one (cheap on every put).
        while self._entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest][0] > now:
                break
            del self._entries[oldest]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class SingleFlight(Generic[K, V]):
    """Concurrent calls with the same key share one execution and its result or error."""

    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        existing = self._inflight.get(key)
        if existing is not None:
            # shield: one waiter being cancelled must not cancel the shared call.
            return await asyncio.shield(existing)
        future: asyncio.Future[V] = asyncio.ensure_future(work())
        self._inflight[key] = future
        future.add_done_callback(lambda done: self._finish(key, done))
        return await asyncio.shield(future)

    def is_running(self, key: K) -> bool:
        return key in self._inflight

    def _finish(self, key: K, done: asyncio.Future[V]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # mark retrieved even if every waiter was cancelled

    def __len__(self) -> int:
        return len(self._inflight)
