"""The store's queries behind the App Home, and the migration that indexes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import AuditEntry, Store, async_database_url
from bot.store.migrations import STEPS, configure_sqlite_engine, migrate
from bot.store.tables import metadata

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def entry(minutes: int, user: str, action: str = "lookup", email: str = "a@x.io") -> AuditEntry:
    return AuditEntry(
        T0 + timedelta(minutes=minutes), user, "C1", action, "p", email, "ok", f"r{minutes}"
    )


async def test_recent_audit_is_one_persons_newest_first(store: Store) -> None:
    for minutes, user, action in [(1, "U1", "lookup"), (2, "U2", "lookup"), (3, "U1", "share")]:
        await store.record_audit(entry(minutes, user, action))
    await store.record_audit(entry(4, "U1", "lookup", "b@x.io"))
    rows = await store.recent_audit("U1")
    assert [r.reference for r in rows] == ["r4", "r3", "r1"]
    lookups = await store.recent_audit("U1", action="lookup", limit=1)
    assert [r.customer_email for r in lookups] == ["b@x.io"]
    assert await store.recent_audit("U9") == []


async def test_watches_for_a_person(store: Store) -> None:
    add = store.watches.add
    await add(product="p", customer_email="a@x.io", channel_id="C1", threshold_pct=90,
              created_by="U1", now=T0)  # fmt: skip
    await add(product="p", customer_email="b@x.io", channel_id="C2", threshold_pct=90,
              created_by="U2", now=T0)  # fmt: skip
    await add(product="p", customer_email="c@x.io", channel_id="C3", threshold_pct=90,
              created_by="U2", now=T0)  # fmt: skip
    mine, total = await store.watches.for_user("U1")
    assert ([w.customer_email for w in mine], total) == (["a@x.io"], 1)
    seen, total = await store.watches.for_user("U1", ["C2", "C9"])
    assert ([w.customer_email for w in seen], total) == (["a@x.io", "b@x.io"], 2)
    first, total = await store.watches.for_user("U2", limit=1)
    assert (len(first), total) == (1, 2)


async def test_upgrade_from_version_1_adds_the_audit_index(store_url: str) -> None:
    engine = create_async_engine(async_database_url(store_url))
    configure_sqlite_engine(engine)
    try:
        audit = metadata.tables["audit_log"]
        index = next(
            i for i in audit.indexes if [c.name for c in i.columns] == ["slack_user", "at"]
        )
        await migrate(engine, steps=STEPS[:1])
        async with engine.begin() as conn:  # a version-1 database had no such index
            await conn.run_sync(lambda c: index.drop(c))
        await migrate(engine)
        async with engine.connect() as conn:
            indexes = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("audit_log"))
        assert index.name in {i["name"] for i in indexes}
    finally:
        await engine.dispose()
    store = await Store.open(store_url)
    try:
        await store.record_audit(entry(1, "U1"))
        assert len(await store.recent_audit("U1")) == 1
    finally:
        await store.close()
