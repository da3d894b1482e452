"""Pure: one watch as a line of mrkdwn (id, customer, product, channel, last check, state)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.alerts.rules import Snapshot
from bot.slack.mrkdwn import escape, escape_within
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
