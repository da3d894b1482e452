"""The store on SQLite and PostgreSQL: migrations under concurrency, de-duplication, audit."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import (
    SCHEMA_VERSION,
    AuditEntry,
    Store,
    async_database_url,
    migrate,
    redact_url,
)
from bot.store.migrations import STEPS
from bot.store.tables import metadata, schema_version, sent_alerts, watches

REPO_ROOT = Path(__file__).resolve().parent.parent
BOT_TABLES = {
    "processed_events",
    "audit_log",
    "watches",
    "sent_alerts",
    "schema_version",
    "watch_keys",
    "webhook_events",
    "rate_buckets",
    "rate_bucket_clients",
    "housekeeping",
}
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


async def schema_state_of(store: Store) -> tuple[list[int], set[str]]:
    """Recorded schema versions, and which of the bot's tables exist."""
    async with store.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        versions: list[int] = []
        if "schema_version" in names:
            versions = list((await conn.execute(sa.select(schema_version.c.version))).scalars())
    return versions, names & BOT_TABLES


async def schema_state(url: str) -> tuple[list[int], set[str]]:
    """`schema_state_of` through a fresh engine that does not migrate."""
    store = await Store.open(url, migrate=False)
    try:
        return await schema_state_of(store)
    finally:
        await store.close()


# URLs (pure)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///bot.db", "sqlite+aiosqlite:///bot.db"),
        ("sqlite+aiosqlite:///bot.db", "sqlite+aiosqlite:///bot.db"),
        ("sqlite:////var/data/bot.db", "sqlite+aiosqlite:////var/data/bot.db"),
        (
            "postgres://u:p@h:5432/db?sslmode=require",
            "postgresql+asyncpg://u:p@h:5432/db?ssl=require",
        ),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+psycopg2://u@h:6543/db", "postgresql+asyncpg://u@h:6543/db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        (
            "postgresql://u:p@h/db?sslmode=verify-full&application_name=bot",
            "postgresql+asyncpg://u:p@h/db?application_name=bot&ssl=verify-full",
        ),
        ("postgresql://u:p@h/db?sslmode=disable", "postgresql+asyncpg://u:p@h/db?ssl=disable"),
        ("postgres://u:p%40ss@h/db", "postgresql+asyncpg://u:p%40ss@h/db"),
    ],
)
def test_async_database_url(given: str, expected: str) -> None:
    assert async_database_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "mysql://u:hunter22@h/db",
        "http://example.com/db",
        "not a url",
        "",
        "postgres://u:hunter22@h/db?sslmode=sometimes",
    ],
)
def test_unsupported_database_url(given: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as caught:
        async_database_url(given)
    message = str(caught.value)
    assert "\n" not in message
    assert "postgresql+asyncpg://" in message
    assert "sqlite:///" in message
    assert "hunter22" not in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:hunter22@h:5432/db?sslmode=require",
            "postgres://u:***@h:5432/db?sslmode=require",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u@h/db?password=hunter22", "postgresql://u@h/db?password=***"),
        ("sqlite:///bot.db", "sqlite:///bot.db"),
        ("weird://u:hunter22@h/x y", "weird://u:***@h/x y"),  # unparseable: redacted as text
    ],
)
def test_redact_url(given: str, expected: str) -> None:
    assert redact_url(given) == expected


# Migrations


async def test_migrate_twice_is_a_no_op(store: Store) -> None:
    assert await store.claim_event("Ev1", now=T0)
    await migrate(store.engine)
    await migrate(store.engine)
    versions, tables = await schema_state_of(store)
    assert versions == [SCHEMA_VERSION]
    assert tables == BOT_TABLES
    assert await store.count_events() == 1


def _add_audit_extra(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE audit_log ADD COLUMN extra TEXT"))


async def test_upgrade_runs_only_pending_steps(store: Store) -> None:
    await store.record_audit(entry(T0))
    steps = [*STEPS, (SCHEMA_VERSION + 1, _add_audit_extra)]
    await migrate(store.engine, steps=steps)
    await migrate(store.engine, steps=steps)  # the step ran once, or ALTER TABLE would fail
    versions, _ = await schema_state_of(store)
    assert versions == [SCHEMA_VERSION, SCHEMA_VERSION + 1]
    async with store.engine.connect() as conn:
        columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("audit_log"))
    assert "extra" in {column["name"] for column in columns}
    assert len(await store.audit_entries()) == 1
    await migrate(store.engine)  # older code on a newer schema leaves it alone
    assert (await schema_state_of(store))[0] == [SCHEMA_VERSION, SCHEMA_VERSION + 1]


@pytest.mark.parametrize("stamped_by", ["audit", "webhooks"])
async def test_a_database_stamped_2_by_either_branch_ends_with_every_index(
    store: Store, stamped_by: str
) -> None:
    """Two branches once both called their step version 2: the audit index, or the webhook
    columns and index. Either database, upgraded, has both."""
    async with store.engine.begin() as conn:
        if stamped_by == "webhooks":
            await conn.execute(sa.text("DROP INDEX ix_audit_log_slack_user_at"))
        else:
            await conn.execute(sa.text("DROP INDEX ix_watches_wake_at"))
            for column in ("wake_at", "wake_latest", "woken_at", "keys_digest"):
                await conn.execute(sa.text(f"ALTER TABLE watches DROP COLUMN {column}"))
        await conn.execute(sa.text("DELETE FROM schema_version"))
        await conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (1), (2)"))
    await migrate(store.engine)

    def indexes_and_columns(conn: sa.Connection) -> tuple[set[str], set[str]]:
        inspector = sa.inspect(conn)
        names = {
            str(index["name"])
            for table in ("audit_log", "watches")
            for index in inspector.get_indexes(table)
        }
        return names, {column["name"] for column in inspector.get_columns("watches")}

    async with store.engine.connect() as conn:
        indexes, columns = await conn.run_sync(indexes_and_columns)
    assert {"ix_audit_log_slack_user_at", "ix_watches_wake_at"} <= indexes
    assert {"wake_at", "wake_latest", "woken_at", "keys_digest"} <= columns
    assert (await schema_state_of(store))[0][-1] == SCHEMA_VERSION


def test_migration_steps_must_increase() -> None:
    with pytest.raises(ValueError, match="increasing"):
        asyncio.run(migrate(None, steps=[(2, _add_audit_extra), (1, _add_audit_extra)]))  # type: ignore[arg-type]


async def test_concurrent_opens_migrate_once(store_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(store_url) for _ in range(5)))
    try:
        assert all(await asyncio.gather(*(s.ping() for s in stores)))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await schema_state(store_url) == ([SCHEMA_VERSION], BOT_TABLES)


CHILD = """
import asyncio, sys
from bot.store import Store

print("ready", flush=True)
sys.stdin.readline()

async def main() -> None:
    store = await Store.open(sys.argv[1])
    assert await store.claim_event("from-" + sys.argv[2])
    await store.close()

asyncio.run(main())
print("done", flush=True)
"""


async def test_concurrent_processes_migrate_once(store_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            store_url,
            str(n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO_ROOT,
            env=env,
        )
        for n in range(3)
    ]
    try:
        async with asyncio.timeout(30):
            for proc in procs:  # wait until all have imported, then start them together
                assert proc.stdout is not None
                assert await proc.stdout.readline() == b"ready\n"
            outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.decode().splitlines()[-1] == "done"
    assert await schema_state(store_url) == ([SCHEMA_VERSION], BOT_TABLES)
    store = await Store.open(store_url, migrate=False)
    try:
        assert await store.count_events() == 3
    finally:
        await store.close()


async def test_schema_foreign_keys_and_unique_watch(store: Store) -> None:
    async with store.engine.begin() as conn:
        watch = {
            "product": "acme-desktop",
            "customer_email": "ops@example.com",
            "channel_id": "C1",
            "created_by": "U1",
            "created_at": T0,
        }
        result = await conn.execute(sa.insert(watches).values(watch).returning(watches.c.id))
        watch_id = result.scalar_one()
        await conn.execute(
            sa.insert(sent_alerts).values(
                watch_id=watch_id,
                alert_key="k1",
                created_at=T0,
                channel_id="C1",
                payload={"text": "x"},
            )
        )
        row = (await conn.execute(sa.select(watches).where(watches.c.id == watch_id))).one()
        assert row.threshold_pct == 90
        assert row.consecutive_failures == 0
        assert row.created_at == T0
    with pytest.raises(sa.exc.IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(sa.insert(watches).values(watch))
    async with store.engine.begin() as conn:
        await conn.execute(sa.delete(watches).where(watches.c.id == watch_id))
        left = await conn.scalar(sa.select(sa.func.count()).select_from(sent_alerts))
    assert left == 0  # ON DELETE CASCADE, so SQLite's foreign_keys pragma is on


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        await store.close()


async def test_migrate_sets_up_a_bare_sqlite_engine(tmp_path: Path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(async_database_url(f"sqlite:///{tmp_path / 'bare.db'}"))
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


# Slack event de-duplication


async def test_claim_event_first_time_only(store: Store) -> None:
    assert await store.claim_event("Ev1")
    assert not await store.claim_event("Ev1")
    assert await store.claim_event("Ev2")
    assert await store.count_events() == 2


async def test_claim_event_concurrent_tasks(store: Store) -> None:
    results = await asyncio.gather(*(store.claim_event("EvRace") for _ in range(20)))
    assert results.count(True) == 1
    assert await store.count_events() == 1


async def test_claim_event_across_two_stores(store: Store, store_url: str) -> None:
    other = await Store.open(store_url)
    try:
        ids = [f"Ev{n}" for n in range(5)]
        claims = [s.claim_event(i) for i in ids for s in (store, other, store, other)]
        results = await asyncio.gather(*claims)
        per_id = [results[n * 4 : n * 4 + 4] for n in range(len(ids))]
        assert all(r.count(True) == 1 for r in per_id), per_id
        assert await other.count_events() == len(ids)
    finally:
        await other.close()


async def test_purge_events_removes_only_old_ones(store: Store) -> None:
    now = datetime.now(UTC)
    assert await store.claim_event("old1", now=now - timedelta(hours=3))
    assert await store.claim_event("old2", now=now - timedelta(minutes=61))
    assert await store.claim_event("fresh", now=now - timedelta(minutes=59))
    assert await store.claim_event("new")
    assert await store.purge_events() == 2
    assert await store.count_events() == 2
    assert await store.claim_event("old1")  # forgotten, so claimable again
    assert not await store.claim_event("fresh")
    assert await store.purge_events(timedelta(days=1)) == 0


# Audit log


def entry(at: datetime, action: str = "lookup", **changes: str | None) -> AuditEntry:
    values: dict[str, str | None] = {
        "slack_user": "U123",
        "channel": "C456",
        "product": "acme-desktop",
        "customer_email": "ops@example.com",
        "outcome": "ok",
        "reference": "req-1",
        **changes,
    }
    return AuditEntry(at=at, action=action, **values)  # type: ignore[arg-type]


async def test_audit_round_trip_in_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    written = [
        entry(T0 + timedelta(minutes=5), "share", detail="shared in channel"),
        entry(
            (T0 + timedelta(minutes=1)).astimezone(plus_two),
            "refused",
            channel=None,
            product=None,
            customer_email=None,
            reference=None,
        ),
        entry(T0 + timedelta(minutes=3), "escalate", outcome="error"),
        entry(T0, "lookup"),
    ]
    for item in written:
        await store.record_audit(item)

    read = await store.audit_entries()
    assert [e.action for e in read] == ["lookup", "refused", "escalate", "share"]
    for got in read:
        assert got.at.tzinfo is not None and got.at.utcoffset() == timedelta(0)
    assert read[1].at == T0 + timedelta(minutes=1)
    assert read[1] == AuditEntry(
        at=T0 + timedelta(minutes=1),
        slack_user="U123",
        channel=None,
        action="refused",
        product=None,
        customer_email=None,
        outcome="ok",
        reference=None,
    )
    assert read[3].detail == "shared in channel"

    since = await store.audit_entries(since=(T0 + timedelta(minutes=3)).astimezone(plus_two))
    assert [e.action for e in since] == ["escalate", "share"]
    assert [e.action for e in await store.audit_entries(limit=2)] == ["lookup", "refused"]


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await store.record_audit(entry(datetime(2025, 3, 1, 12, 0)))


# Health


async def test_ping(store: Store) -> None:
    assert await store.ping()
    await store.close()
    assert not await store.ping()
    with pytest.raises(RuntimeError, match="closed"):
        await store.count_events()


async def test_ping_nowhere(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite"):
        nowhere = f"sqlite:///{tmp_path / 'missing-dir' / 'bot.db'}"
    else:
        nowhere = "postgresql://postgres@127.0.0.1:1/test"
    store = await Store.open(nowhere, migrate=False)
    try:
        assert not await store.ping()
    finally:
        await store.close()


def test_metadata_has_the_bot_tables() -> None:
    assert set(metadata.tables) == BOT_TABLES


_V2_TABLES = ("watch_keys", "webhook_events", "rate_buckets", "rate_bucket_clients")
_V2_COLUMNS = ("wake_at", "wake_latest", "woken_at", "keys_digest")


async def test_a_version_1_database_is_upgraded_for_webhooks(store_url: str) -> None:
    """Build what version 1 had (no webhook tables or columns), then open it: upgraded."""
    store = await Store.open(store_url)
    await store.watches.add(
        product="p",
        customer_email="a@b.c",
        channel_id="C1",
        threshold_pct=90,
        created_by="U1",
        now=T0,
    )
    async with store.engine.begin() as conn:
        for table in _V2_TABLES:
            await conn.execute(sa.text(f"DROP TABLE {table}"))
        await conn.execute(sa.text("DROP INDEX ix_watches_wake_at"))
        for column in _V2_COLUMNS:
            await conn.execute(sa.text(f"ALTER TABLE watches DROP COLUMN {column}"))
        await conn.execute(sa.delete(schema_version))
        await conn.execute(sa.insert(schema_version).values(version=1))
    await store.close()

    upgraded = await Store.open(store_url)
    try:
        versions, tables = await schema_state_of(upgraded)
        assert versions == [1, 2, 3, 4, 5]
        assert tables == BOT_TABLES
        [watch] = await upgraded.watches.all()
        assert (watch.customer_email, watch.wake_at, watch.keys_digest) == ("a@b.c", None, None)
        woken = await upgraded.webhooks.accept(
            "e1",
            "customer.updated",
            customer_emails={"a@b.c"},
            keys=set(),
            now=T0,
            debounce=timedelta(seconds=1),
        )
        assert woken == [watch.id]
    finally:
        await upgraded.close()
