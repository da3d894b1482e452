"""Concurrent audit rows share one transaction; each caller still returns once its row is in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.store import AuditEntry, Store
from bot.store.groupcommit import GroupCommit


def _entry(index: int) -> AuditEntry:
    return AuditEntry(
        at=datetime.now(UTC),
        slack_user=f"U{index}",
        channel="C1",
        action="lookup",
        product="p",
        customer_email=f"c{index}@example.com",
        outcome="ok",
        reference=f"r{index}",
    )


async def test_concurrent_audit_rows_are_stored_in_one_transaction(store: Store) -> None:
    transactions = 0

    def count(_: object) -> None:
        nonlocal transactions
        transactions += 1

    sa.event.listen(store.engine.sync_engine, "begin", count)
    try:
        await asyncio.gather(*(store.record_audit(_entry(i)) for i in range(20)))
    finally:
        sa.event.remove(store.engine.sync_engine, "begin", count)
    assert transactions == 1
    stored = await store.audit_entries()
    assert sorted(entry.reference or "" for entry in stored) == sorted(f"r{i}" for i in range(20))


async def test_each_caller_returns_after_its_row_is_committed() -> None:
    written: list[int] = []

    async def write(items: Sequence[int]) -> None:
        await asyncio.sleep(0.01)
        written.extend(items)

    group = GroupCommit(write)

    async def add(item: int) -> int:
        await group.add(item)
        assert item in written
        return item

    assert await asyncio.gather(*(add(i) for i in range(5))) == list(range(5))
    await group.add(99)  # after a burst, a lone row is written too
    assert written == [0, 1, 2, 3, 4, 99]


async def test_one_bad_row_fails_only_its_caller() -> None:
    async def write(items: Sequence[int]) -> None:
        if 3 in items:
            raise ValueError("row 3 is refused")

    group = GroupCommit(write)
    results = await asyncio.gather(*(group.add(i) for i in range(6)), return_exceptions=True)
    assert [isinstance(result, ValueError) for result in results] == [
        False, False, False, True, False, False,
    ]  # fmt: skip


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    release = asyncio.Event()
    written: list[int] = []

    async def write(items: Sequence[int]) -> None:
        await release.wait()
        written.extend(items)

    group = GroupCommit(write)
    first = asyncio.create_task(group.add(1))
    second = asyncio.create_task(group.add(2))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert written == [1, 2]
