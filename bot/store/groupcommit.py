"""Group commit: rows from concurrent callers written in one transaction.

Each caller still returns only once its own row is committed (or gets the error), with its
own result, so nothing changes for it; what changes is the cost under load. With 20 requests
in flight, one transaction for the rows that arrived meanwhile replaces twenty, each of which
is half a dozen round trips to the database (on SQLite, to its worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 200


class GroupCommit(Generic[T, R]):
    """`write(items)` stores a batch and returns one result per item, in order."""

    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[Sequence[R]]], max_batch: int = MAX_BATCH
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> R:
        """Write `item` with whatever else is waiting; its result once it is committed."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._write([item for item, _ in batch])
                except Exception as error:  # noqa: BLE001 - handed to the callers
                    if len(batch) == 1:
                        _fail(batch[0][1], error)
                    else:  # one bad row must not fail the others: write them one by one
                        await self._one_by_one(batch)
                else:
                    for (_, done), result in zip(batch, results, strict=True):
                        _succeed(done, result)
        except BaseException:
            # Cancelled (the loop is closing): nobody is left waiting for a write.
            pending, self._pending = self._pending, []
            for _, done in (*batch, *pending):
                done.cancel()
            raise

    async def _one_by_one(self, batch: Sequence[tuple[T, asyncio.Future[R]]]) -> None:
        for item, done in batch:
            try:
                [result] = await self._write([item])
            except Exception as error:  # noqa: BLE001 - handed to the caller
                _fail(done, error)
            else:
                _succeed(done, result)


def _succeed(done: asyncio.Future[R], result: R) -> None:
    if not done.done():  # else its caller was cancelled
        done.set_result(result)


def _fail(done: asyncio.Future[R], error: Exception) -> None:
    if not done.done():
        done.set_exception(error)
