"""Watches, leases and the alert outbox on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.store import CheckResult, Store
from bot.store.watches import PENDING, SENT, SUPPRESSED

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


async def add(store: Store, email: str = "Ada@Example.com", channel: str = "C1") -> int:
    watch, _ = await store.watches.add(
        product="acme",
        customer_email=email,
        channel_id=channel,
        threshold_pct=90,
        created_by="U1",
        now=NOW,
    )
    return watch.id


def result(alerts: list[tuple[str, dict[str, str]]] | None = None, **extra: object) -> CheckResult:
    values: dict[str, object] = {
        "outcome": "ok",
        "snapshot": {"users": {}},
        "consecutive_failures": 0,
        "failure_alerted": False,
        "next_check_at": NOW + timedelta(minutes=15),
        "alerts": alerts or [],
    }
    values.update(extra)
    return CheckResult(**values)  # type: ignore[arg-type]


async def test_add_is_an_upsert_per_product_email_channel(store: Store) -> None:
    first, created = await store.watches.add(
        product="acme",
        customer_email="Ada@Example.com",
        channel_id="C1",
        threshold_pct=90,
        created_by="U1",
        now=NOW,
    )
    assert created
    assert first.customer_email == "ada@example.com"
    await store.watches.pause(first.id, "not_in_channel")
    again, created = await store.watches.add(
        product="acme",
        customer_email="ada@example.com",
        channel_id="C1",
        threshold_pct=75,
        created_by="U2",
        now=NOW,
    )
    assert not created
    assert again.id == first.id
    assert again.threshold_pct == 75
    assert again.paused_reason is None
    await add(store, channel="C2")
    assert len(await store.watches.all()) == 2
    assert [w.channel_id for w in await store.watches.all("C2")] == ["C2"]


async def test_claim_due_leases_and_skips_paused_and_leased(store: Store) -> None:
    due = await add(store, "a@x.io")
    paused = await add(store, "b@x.io")
    await store.watches.pause(paused, "is_archived")
    claimed = await store.watches.claim_due("w1", now=NOW, lease=LEASE, limit=10)
    assert [w.id for w in claimed] == [due]
    assert await store.watches.claim_due("w2", now=NOW, lease=LEASE, limit=10) == []
    # an expired lease (a crashed worker) can be taken over
    taken = await store.watches.claim_due("w2", now=NOW + LEASE * 2, lease=LEASE, limit=10)
    assert [w.id for w in taken] == [due]


async def test_concurrent_claimers_take_disjoint_sets(store_url: str) -> None:
    stores = [await Store.open(store_url) for _ in range(3)]
    try:
        for i in range(30):
            await add(stores[0], f"u{i}@x.io")
        claims = await asyncio.gather(
            *(
                s.watches.claim_due(f"w{n}", now=NOW, lease=LEASE, limit=12)
                for n, s in enumerate(stores)
            )
        )
        ids = [w.id for claim in claims for w in claim]
        assert len(ids) == 30
        assert len(set(ids)) == 30
    finally:
        for s in stores:
            await s.close()


async def test_save_check_needs_the_lease_and_writes_alerts_once(store: Store) -> None:
    watch_id = await add(store)
    [watch] = await store.watches.claim_due("w1", now=NOW, lease=LEASE, limit=1)
    alerts = [("users_added", {"text": "added"}), ("reached_limit", {"text": "limit"})]
    assert not await store.watches.save_check(
        watch, "intruder", result(alerts), now=NOW, suppress=False
    )
    assert await store.watches.save_check(watch, "w1", result(alerts), now=NOW, suppress=False)
    # a second save of the same stale watch (e.g. a duplicate worker) is refused
    assert not await store.watches.save_check(watch, "w1", result(alerts), now=NOW, suppress=False)
    pending = await store.watches.pending_alerts(watch_id)
    assert [a.alert_key for a in pending] == ["1:reached_limit", "1:users_added"]
    await store.watches.mark_alert(pending[0], SENT, now=NOW, message_ts="1.2")
    assert [a.alert_key for a in await store.watches.pending_alerts(watch_id)] == ["1:users_added"]
    stored = await store.watches.get(watch_id)
    assert stored is not None
    assert stored.snapshot_seq == 1
    assert stored.last_snapshot == {"users": {}}
    assert await store.watches.alerts_by_status(watch_id) == {SENT: 1, PENDING: 1}


async def test_failed_check_keeps_snapshot_and_snoozed_alerts_are_suppressed(
    store: Store,
) -> None:
    watch_id = await add(store)
    [watch] = await store.watches.claim_due("w1", now=NOW, lease=LEASE, limit=1)
    await store.watches.save_check(watch, "w1", result(), now=NOW, suppress=False)
    [watch] = await store.watches.claim_due("w1", now=NOW + LEASE * 4, lease=LEASE, limit=1)
    failing = result(
        [("lookup_failing", {"text": "x"})],
        snapshot=None,
        outcome="timeout",
        consecutive_failures=3,
        failure_alerted=True,
    )
    assert await store.watches.save_check(watch, "w1", failing, now=NOW, suppress=True)
    stored = await store.watches.get(watch_id)
    assert stored is not None
    assert stored.last_snapshot == {"users": {}}
    assert stored.consecutive_failures == 3
    assert stored.failure_alerted
    assert await store.watches.pending_alerts(watch_id) == []
    assert await store.watches.alerts_by_status(watch_id) == {SUPPRESSED: 1}


async def test_remove_cascades_and_by_email(store: Store) -> None:
    first = await add(store, "a@x.io", "C1")
    await add(store, "a@x.io", "C2")
    [watch, _] = await store.watches.claim_due("w", now=NOW, lease=LEASE, limit=5)
    await store.watches.save_check(
        watch, "w", result([("baseline", {"t": "b"})]), now=NOW, suppress=False
    )
    removed = await store.watches.remove(first)
    assert removed is not None
    assert await store.watches.alerts_by_status() == {}
    assert [w.channel_id for w in await store.watches.remove_by_email("A@x.io", None)] == ["C2"]
    assert await store.watches.remove(first) is None


async def test_snooze_and_release(store: Store) -> None:
    watch_id = await add(store)
    snoozed = await store.watches.snooze(watch_id, NOW + timedelta(hours=24))
    assert snoozed is not None
    assert snoozed.snoozed(NOW)
    assert not snoozed.snoozed(NOW + timedelta(hours=25))
    [watch] = await store.watches.claim_due("w1", now=NOW, lease=LEASE, limit=1)
    await store.watches.release(watch.id, "w1")
    assert [w.id for w in await store.watches.claim_due("w2", now=NOW, lease=LEASE, limit=1)] == [
        watch_id
    ]
