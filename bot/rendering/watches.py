"""Pure: watches in words. One watch as a line, the `watches` list as a message, and every
sentence the bot says about a watch (snoozed, stopped, not yours, gone, why a channel can't
take alerts), whichever surface asked. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.alert_rules import Snapshot
from bot.rendering.blocks import Message, render_notice
from bot.rendering.ids import INVITE_COMMAND
from bot.rendering.mrkdwn import escape, escape_within, slack_date
from bot.store import Watch

_EMAIL_COST = 80
_PRODUCT_COST = 40
_CODE_COST = 60

NO_STORE_TEXT = "Alerts need a store (DATABASE_URL)."
INVITE_HINT = f"Invite me there with `{INVITE_COMMAND}`, then run the command again."


def watch_line(watch: Watch, now: datetime) -> str:
    return (
        f"*{watch.id}* · `{escape_within(watch.customer_email, _EMAIL_COST)}` · "
        f"`{escape_within(watch.product, _PRODUCT_COST)}` · <#{watch.channel_id}> · "
        f"at {watch.threshold_pct}% · {last_check(watch, now)} · {watch_state(watch, now)}"
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


def render_watch_list(
    watches: Sequence[Watch], *, channel: str | None, now: datetime, hidden: int = 0
) -> Message:
    """Pure: the watches, one line each, in sections that respect Block Kit's limits.

    `hidden` counts watches the person may not see (not theirs, in channels they are not in).
    """
    where = f" in <#{channel}>" if channel else ""
    note = _hidden_note(hidden)
    if not watches:
        text = f"No watches{where}. Start one with `/license-users watch …`."
        return render_notice(f"{text} {note}" if note else text)
    lines = [watch_line(w, now) for w in watches[:MAX_LISTED_WATCHES]]
    if len(watches) > MAX_LISTED_WATCHES:
        lines.append(f"…and {len(watches) - MAX_LISTED_WATCHES} more.")
    if note:
        lines.append(note)
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


def _hidden_note(hidden: int) -> str:
    if hidden <= 0:
        return ""
    what = "watch is" if hidden == 1 else "watches are"
    return f"_{hidden:,} {what} in channels you are not in._"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


# --- what the bot says about one watch ------------------------------------------------------


def describe(watch: Watch) -> str:
    return (
        f"watch {watch.id} (`{escape_within(watch.customer_email, _EMAIL_COST)}` in "
        f"`{escape_within(watch.product, _PRODUCT_COST)}` for <#{watch.channel_id}>)"
    )


def stopped_text(watches: Sequence[Watch]) -> str:
    return ":white_check_mark: Stopped " + ", ".join(describe(w) for w in watches)


def gone_text(watch_id: int) -> str:
    return f":x: Watch {watch_id} no longer exists."


def not_theirs_text(watch: Watch) -> str:
    """One line to someone who neither made the watch nor is in its channel."""
    return (
        f":no_entry: Watch {watch.id} belongs to <@{watch.created_by}> in "
        f"<#{watch.channel_id}>: only they or members of <#{watch.channel_id}> can change it."
    )


def not_in_channel_text(channel: str) -> str:
    """To someone asking for the watches of a channel they are not in."""
    return f":no_entry: You are not in <#{channel}>, so its watches are not shown."


def render_snoozed(
    until_text: str, *, until_ts: int | None = None, customer_email: str | None = None
) -> Message:
    """A one-line confirmation of Snooze.

    `until_text` is shown escaped; with `until_ts` (Unix seconds) Slack shows the time in each
    reader's time zone and `until_text` is the fallback.
    """
    shown = escape_within(until_text, _CODE_COST) or "later"
    if until_ts is not None:
        shown = slack_date(
            until_ts, until_text[:_CODE_COST], layout="{date_short_pretty} at {time}"
        )
    whose = f" for `{escape_within(customer_email, _EMAIL_COST)}`" if customer_email else ""
    return render_notice(f":zzz: Alerts{whose} snoozed until {shown}.")


def render_unwatched(*, product: str, customer_email: str) -> Message:
    """A one-line confirmation of Unwatch pressed on an alert, in the alert's channel."""
    email = escape_within(customer_email, _EMAIL_COST) or "—"
    product_text = escape_within(product, _PRODUCT_COST) or "—"
    return render_notice(
        f":wave: Stopped watching {email} in *{product_text}*: no more alerts in this channel."
    )


# --- why a channel can't take alerts --------------------------------------------------------

ProblemKind = Literal["not_a_channel", "cannot_see", "slack_error", "archived", "not_member"]


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    """Why the bot could not post alerts in a channel."""

    kind: ProblemKind
    channel: str
    code: str | None = None  # Slack's error code, for slack_error

    def for_command(self) -> str:
        """mrkdwn, for a reply to the `watch` command."""
        channel = f"<#{self.channel}>"
        if self.kind == "not_a_channel":
            return "Alerts go to a channel: run the command in one, or name one with `#channel`."
        if self.kind == "cannot_see":
            return f"I can't see {channel}. {INVITE_HINT}"
        if self.kind == "slack_error":
            return f"Slack would not tell me about {channel} ({escape(str(self.code))})."
        if self.kind == "archived":
            return f"{channel} is archived."
        return f"I'm not a member of {channel}. {INVITE_HINT}"

    def for_form(self) -> str:
        """Plain text, for an error under a modal's channel picker."""
        invite = f"Invite me there with {INVITE_COMMAND}, then submit again."
        if self.kind == "not_a_channel":
            return "Alerts go to a channel: pick a public or private channel."
        if self.kind == "cannot_see":
            return f"I can't see that channel. {invite}"
        if self.kind == "slack_error":
            return f"Slack would not tell me about that channel ({str(self.code)[:40]})."
        if self.kind == "archived":
            return "That channel is archived."
        return f"I'm not a member of that channel. {invite}"


def watching_text(watch: Watch, *, created: bool) -> str:
    verb = "Watching" if created else "Still watching"
    return (
        f":eyes: {verb} `{escape(watch.customer_email)}` in `{escape(watch.product)}` for "
        f"<#{watch.channel_id}> (watch {watch.id}), alerting at {watch.threshold_pct}% of the "
        "activations of all license users. The first check posts a short confirmation there."
    )
