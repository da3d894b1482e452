"""Retention: old audit rows, alert payloads and event ids go, in batches, under a lease."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.alerts.retention import EVERY, LEASE, Retention, RetentionPolicy
from bot.config import Settings
from bot.store import AuditEntry, Store
from bot.store.tables import audit_log, processed_events, sent_alerts, webhook_events
from tests.support.leaks import scan_process_output

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(audit=timedelta(days=365), alerts=timedelta(days=90))


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def audit_row(at: datetime, index: int) -> AuditEntry:
    return AuditEntry(
        at=at,
        slack_user="U1",
        channel="C1",
        action="lookup",
        product="p",
        customer_email=f"customer-{index}@example.com",
        outcome="ok",
        reference=f"r{index}",
    )


async def seed(store: Store, now: datetime) -> None:
    """Per table: rows just past its retention, and rows just within it."""
    old_audit, new_audit = now - timedelta(days=366), now - timedelta(days=364)
    for index in range(7):
        await store.record_audit(audit_row(old_audit, index))
    for index in range(3):
        await store.record_audit(audit_row(new_audit, 100 + index))
    watch, _ = await store.watches.add(
        product="p",
        customer_email="c@example.com",
        channel_id="C1",
        threshold_pct=90,
        created_by="U1",
        now=now,
    )
    old_alert, new_alert = now - timedelta(days=91), now - timedelta(days=89)
    alerts = [
        (f"{i}:users_added", old_alert, "sent") for i in range(5)
    ] + [
        ("50:users_added", old_alert, "pending"),  # never delivered: kept whatever its age
        ("51:users_added", old_alert, "failed"),
        ("60:users_added", new_alert, "sent"),
    ]  # fmt: skip
    old_ids, new_ids = now - timedelta(days=4), now - timedelta(days=2)
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.insert(sent_alerts),
            [
                {
                    "watch_id": watch.id,
                    "alert_key": key,
                    "created_at": created,
                    "channel_id": "C1",
                    "status": status,
                    "payload": {"text": "an alert"},
                }
                for key, created, status in alerts
            ],
        )
        for table in (processed_events, webhook_events):
            extra = {"event": "customer.updated"} if table is webhook_events else {}
            await conn.execute(
                sa.insert(table),
                [{"event_id": f"old-{i}", "received_at": old_ids, **extra} for i in range(4)]
                + [{"event_id": "new", "received_at": new_ids, **extra}],
            )


async def counts(store: Store) -> dict[str, int]:
    found = {}
    async with store.engine.connect() as conn:
        for table in (audit_log, sent_alerts, processed_events, webhook_events):
            found[table.name] = int(
                await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            )
    return found


async def test_rows_past_their_retention_go_in_batches_and_the_rest_stay(store: Store) -> None:
    await seed(store, NOW)
    assert await counts(store) == {
        "audit_log": 10,
        "sent_alerts": 8,
        "processed_events": 5,
        "webhook_events": 5,
    }
    removed = await Retention(store, POLICY, "worker-a", batch=2, clock=Clock()).run_once()
    assert removed == {
        "audit_log": 7,
        "sent_alerts": 6,
        "processed_events": 4,
        "webhook_events": 4,
    }
    assert await counts(store) == {
        "audit_log": 3,
        "sent_alerts": 2,
        "processed_events": 1,
        "webhook_events": 1,
    }
    kept = {entry.reference for entry in await store.audit_entries()}
    assert kept == {"r100", "r101", "r102"}
    async with store.engine.connect() as conn:
        left = set((await conn.execute(sa.select(sent_alerts.c.alert_key))).scalars())
    assert left == {"50:users_added", "60:users_added"}


async def test_settings_choose_the_retention(store: Store) -> None:
    settings = Settings(_env_file=None, audit_retention_days=30, alert_history_days=7)  # type: ignore[call-arg]
    policy = RetentionPolicy.from_settings(settings)
    assert (policy.audit, policy.alerts) == (timedelta(days=30), timedelta(days=7))
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.audit_retention_days, defaults.alert_history_days) == (365, 90)
    await store.record_audit(audit_row(NOW - timedelta(days=31), 1))
    await store.record_audit(audit_row(NOW - timedelta(days=29), 2))
    removed = await Retention(store, policy, "worker-a", clock=Clock()).run_once()
    assert removed is not None and removed["audit_log"] == 1


async def test_one_worker_at_a_time_and_once_an_hour(store_url: str) -> None:
    stores = [await Store.open(store_url), await Store.open(store_url)]
    clock = Clock()
    try:
        first, second = (
            Retention(s, POLICY, owner, clock=clock)
            for s, owner in zip(stores, ("worker-a", "worker-b"), strict=True)
        )
        # worker-a holds the lease (as if mid-run): worker-b does nothing
        assert await stores[0].retention.claim(
            "retention", "worker-a", now=clock.now, lease=LEASE, every=EVERY
        )
        assert await second.run_once() is None
        # worker-a's run ends; the job is not due again for an hour, for either worker
        assert await first.run_once() is not None
        clock.now += EVERY - timedelta(minutes=1)
        assert await second.run_once() is None
        assert await first.run_once() is None
        clock.now += timedelta(minutes=1)
        assert await second.run_once() is not None
    finally:
        for store in stores:
            await store.close()


async def test_a_lapsed_lease_passes_to_another_worker_and_the_first_stops(
    store: Store,
) -> None:
    clock = Clock()
    await seed(store, NOW)
    repo = store.retention
    assert await repo.claim("retention", "worker-a", now=clock.now, lease=LEASE, every=EVERY)
    clock.now += LEASE + timedelta(seconds=1)  # worker-a hung past its lease
    assert await repo.claim("retention", "worker-b", now=clock.now, lease=LEASE, every=EVERY)
    assert not await repo.renew("retention", "worker-a", now=clock.now, lease=LEASE)
    # worker-a, resuming with a batch of 2, stops after its first batch
    stale = Retention(store, POLICY, "worker-a", batch=2, clock=clock)
    removed = await stale.purge(clock.now)
    assert removed == {"audit_log": 2, "sent_alerts": 0, "processed_events": 0, "webhook_events": 0}


def test_the_worker_process_purges_and_logs_what_it_removed(store_url: str, tmp_path: Path) -> None:
    async def prepare() -> dict[str, int]:
        store = await Store.open(store_url)
        try:
            await seed(store, datetime.now(UTC))
            return await counts(store)
        finally:
            await store.close()

    before = asyncio.run(prepare())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSESPRING_"))},
        "SLACK_BOT_TOKEN": "xoxb-retention",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "DATABASE_URL": store_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        async def after() -> dict[str, int]:
            store = await Store.open(store_url)
            try:
                return await counts(store)
            finally:
                await store.close()

        deadline = time.monotonic() + 30
        while (found := asyncio.run(after()))["audit_log"] == before["audit_log"]:
            assert time.monotonic() < deadline, "the worker did not purge"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=30)
        scan_process_output("python -m bot worker", stdout, stderr)
    assert worker.returncode == 0, stderr
    assert before == {
        "audit_log": 10,
        "sent_alerts": 8,
        "processed_events": 5,
        "webhook_events": 5,
    }
    assert asyncio.run(after()) == {
        "audit_log": 3,
        "sent_alerts": 2,
        "processed_events": 1,
        "webhook_events": 1,
    }
    assert found["audit_log"] <= 3
    assert '"retention_purged"' in stderr
    assert '"audit_log": 7' in stderr
