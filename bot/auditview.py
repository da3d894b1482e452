"""Pure: parse `--since`, and print audit entries as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.store import AuditEntry

COLUMNS = (
    "at",
    "slack_user",
    "channel",
    "action",
    "product",
    "customer_email",
    "outcome",
    "reference",
)
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """`7d`, `12h`, `30m`, `2w`, or an ISO date/time (UTC when no zone) -> an aware datetime."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: expected e.g. 7d, 12h, 30m or 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(entry: AuditEntry) -> list[str]:
    return [
        entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        entry.slack_user,
        entry.channel or "",
        entry.action,
        entry.product or "",
        entry.customer_email or "",
        entry.outcome,
        entry.reference or "",
    ]


def render_table(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return "no audit entries in that period"
    rows = [list(COLUMNS), *(_row(e) for e in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render_csv(entries: Sequence[AuditEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        row = _row(entry)
        row[0] = entry.at.astimezone(UTC).isoformat()
        writer.writerow(row)
    return buffer.getvalue().rstrip("\n")


def render_json(entries: Sequence[AuditEntry]) -> str:
    return json.dumps(
        [
            {**dict(zip(COLUMNS, _row(e), strict=True)), "at": e.at.astimezone(UTC).isoformat()}
            for e in entries
        ],
        indent=2,
        ensure_ascii=False,
    )


RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}
