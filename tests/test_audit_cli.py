"""`python -m bot audit` as a subprocess against real stores."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.auditview import parse_since, render_table
from bot.store import AuditEntry, Store
from tests.test_cli import run_bot

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00+01:00", datetime(2026, 11, 1, 9, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_parse_since_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match=r"expected e\.g\. 7d"):
        parse_since("last tuesday")


def test_empty_table_says_so() -> None:
    assert render_table([]) == "no audit entries in that period"


def entry(at: datetime, action: str, outcome: str = "ok") -> AuditEntry:
    return AuditEntry(
        at=at,
        slack_user="U111",
        channel="C111",
        action=action,
        product="acme-desktop",
        customer_email="ada@example.com",
        outcome=outcome,
        reference="abcd1234",
    )


async def test_audit_command_prints_each_format(store_url: str, tmp_path: Path) -> None:
    store = await Store.open(store_url)
    now = datetime.now(UTC)
    try:
        await store.record_audit(entry(now - timedelta(days=30), "lookup"))
        await store.record_audit(entry(now - timedelta(hours=2), "lookup"))
        await store.record_audit(entry(now - timedelta(hours=1), "refused", "user_not_allowed"))
    finally:
        await store.close()
    env = {"DATABASE_URL": store_url}

    table = run_bot("audit", "--since", "1d", env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["at", "slack_user", "channel"]
    assert len(lines) == 3
    assert "user_not_allowed" in lines[2]

    as_csv = run_bot("audit", "--since", "1d", "--format", "csv", env=env, cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["action"] for r in rows] == ["lookup", "refused"]

    as_json = run_bot("audit", "--since", "60d", "--format", "json", env=env, cwd=tmp_path)
    assert len(json.loads(as_json.stdout)) == 3


def test_audit_command_bad_since_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    result = run_bot("audit", "--since", "yesterday", env={"DATABASE_URL": db}, cwd=tmp_path)
    assert result.returncode == 2
    assert "expected e.g. 7d" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_audit_command_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = run_bot("audit", env={"DATABASE_URL": "mysql://x/y"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
