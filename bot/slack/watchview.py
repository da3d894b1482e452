"""Pure: watches as text: one watch as a line of mrkdwn, and the `watches` list as a message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.alert_rules import Snapshot
from bot.rendering.blocks import Message, render_notice
from bot.rendering.mrkdwn import escape, escape_within
from bot.store import Watch


def watch_line(watch: Watch, now: datetime) -> str:
    return (
        f"*{watch.id}* · `{escape_within(watch.customer_email, 80)}` · "
        f"`{escape_within(watch.product, 40)}` · <#{watch.channel_id}> · at {watch.threshold_pct}%"
        f" · {last_check(watch, now)} · {watch_state(watch, now)}"
    )


def last_check(watch: Watch, now: datetime) -> str:
    if watch.last_checked_at is None:
        return "not yet"
    return f"checked {ago(now - watch.last_checked_at)} ago"


def watch_state(watch: Watch, now: datetime) -> str:
    if watch.paused_reason:
        return f":double_vertical_bar: paused ({escape_within(watch.paused_reason, 60)})"
    if watch.snoozed(now):
        return ":zzz: snoozed"
    if watch.last_outcome and watch.last_outcome != "ok":
        return f":warning: {escape(watch.last_outcome[:60])}"
    snapshot = watch.last_snapshot if isinstance(watch.last_snapshot, dict) else None
    if snapshot is None:
        return "waiting for first check"
    parsed = Snapshot.from_json(snapshot)
    if parsed is None:
        return "ok"
    pct = parsed.utilisation_pct
    return f"{len(parsed.users)} users, {pct}% of activations" if pct is not None else "ok"


def ago(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


MAX_LISTED_WATCHES = 100
_SECTION_CHARS = 2_800


def render_watch_list(watches: list[Watch], *, channel: str | None, now: datetime) -> Message:
    """Pure: the watches, one line each, in sections that respect Block Kit's limits."""
    where = f" in <#{channel}>" if channel else ""
    if not watches:
        return render_notice(f"No watches{where}. Start one with `/license-users watch …`.")
    lines = [watch_line(w, now) for w in watches[:MAX_LISTED_WATCHES]]
    if len(watches) > MAX_LISTED_WATCHES:
        lines.append(f"…and {len(watches) - MAX_LISTED_WATCHES} more.")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Watches ({len(watches)})"}}
    ]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > _SECTION_CHARS:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    return Message(text=f"{len(watches)} watches{where}", blocks=blocks[:50])


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
