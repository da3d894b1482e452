"""Group commit: rows from concurrent callers written in one transaction.

Each caller still returns only once its own row is committed (or gets the error), so nothing
changes for it; what changes is the cost under load. With 20 requests in flight, one
transaction for the audit rows that arrived meanwhile replaces twenty, each of which is half
a dozen round trips to the database (on SQLite, to its worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_BATCH = 200


class GroupCommit(Generic[T]):
    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[None]], max_batch: int = MAX_BATCH
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        """Write `item` with whatever else is waiting; return once it is committed."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._write([item for item, _ in batch])
                except Exception as error:  # noqa: BLE001 - handed to the callers
                    if len(batch) == 1:
                        _settle(batch[0][1], error)
                    else:  # one bad row must not fail the others: write them one by one
                        await self._one_by_one(batch)
                else:
                    for _, done in batch:
                        _settle(done, None)
        except BaseException:
            # Cancelled (the loop is closing): nobody is left waiting for a write.
            pending, self._pending = self._pending, []
            for _, done in (*batch, *pending):
                done.cancel()
            raise

    async def _one_by_one(self, batch: Sequence[tuple[T, asyncio.Future[None]]]) -> None:
        for item, done in batch:
            try:
                await self._write([item])
            except Exception as error:  # noqa: BLE001 - handed to the caller
                _settle(done, error)
            else:
                _settle(done, None)


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.done():  # its caller was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
