"""Concurrent audit rows and event claims share one transaction; each caller still returns
once its row is in, with its own answer."""

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


async def test_concurrent_event_claims_share_one_insert_and_each_id_wins_once(
    store: Store,
) -> None:
    assert await store.claim_event("Ev-old")
    transactions = 0

    def count(_: object) -> None:
        nonlocal transactions
        transactions += 1

    ids = ["Ev-old", "Ev1", "Ev2", "Ev1", "Ev3", "Ev2", "Ev4"]
    sa.event.listen(store.engine.sync_engine, "begin", count)
    try:
        claimed = await asyncio.gather(*(store.claim_event(event_id) for event_id in ids))
    finally:
        sa.event.remove(store.engine.sync_engine, "begin", count)
    assert transactions == 1
    assert claimed == [False, True, True, False, True, False, True]
    assert await store.count_events() == 5


async def test_each_caller_returns_after_its_row_is_committed() -> None:
    written: list[int] = []

    async def write(items: Sequence[int]) -> list[None]:
        await asyncio.sleep(0.01)
        written.extend(items)
        return [None] * len(items)

    group = GroupCommit(write)

    async def add(item: int) -> int:
        await group.add(item)
        assert item in written
        return item

    assert await asyncio.gather(*(add(i) for i in range(5))) == list(range(5))
    await group.add(99)  # after a burst, a lone row is written too
    assert written == [0, 1, 2, 3, 4, 99]


async def test_one_bad_row_fails_only_its_caller() -> None:
    async def write(items: Sequence[int]) -> list[int]:
        if 3 in items:
            raise ValueError("row 3 is refused")
        return [item * 10 for item in items]

    group = GroupCommit(write)
    results = await asyncio.gather(*(group.add(i) for i in range(6)), return_exceptions=True)
    assert [r if isinstance(r, int) else type(r) for r in results] == [
        0, 10, 20, ValueError, 40, 50,
    ]  # fmt: skip


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    release = asyncio.Event()
    written: list[int] = []

    async def write(items: Sequence[int]) -> list[None]:
        await release.wait()
        written.extend(items)
        return [None] * len(items)

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
