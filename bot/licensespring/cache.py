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
    """Entries live `ttl` seconds; the least recently used go first beyond `max_entries` or,
    when `max_bytes` is set, beyond that many bytes (each entry's `size`, given by the caller:
    an estimate is enough). An entry larger than `max_bytes` on its own is not kept."""

    def __init__(self, ttl: float, max_entries: int = 256, max_bytes: int | None = None) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, tuple[float, V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    @property
    def bytes(self) -> int:
        """The sizes of the entries held, summed (expired ones included until dropped)."""
        return self._bytes

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value, _ = entry
        if time.monotonic() >= expires_at:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V, size: int = 0) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        self._drop(key)
        if self.max_bytes is not None and size > self.max_bytes:
            return
        self._entries[key] = (now + self.ttl, value, size)
        self._bytes += size
        while len(self._entries) > self.max_entries or (
            self.max_bytes is not None and self._bytes > self.max_bytes
        ):
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
        # Expired entries go too, not only when read: a writer that never reads (the alert
        # poller's fresh lookups) would otherwise hold up to `max_entries` stale answers.
        # From the least recently used end, up to the first live one (cheap on every put).
        while self._entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest][0] > now:
                break
            self._drop(oldest)

    def _drop(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

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
