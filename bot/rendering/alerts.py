"""Pure Block Kit rendering of channel alerts and of the watch notices around them. No I/O.

Every string that did not come from the bot (customer and user names and e-mails, the product,
error codes, Slack error codes) passes through `escape_within`, which escapes it, keeps it on
one line and bounds its `text_cost`. With at most `MAX_LISTED_USERS` users listed, an alert is
far below Slack's limits whatever the data; the tests check `check_limits` on arbitrary text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from bot.alert_rules import Alert, AlertKind, Snapshot, UserState, email_key
from bot.licensespring.errors import hint_for
from bot.rendering.blocks import (
    MAX_FALLBACK_TEXT_CHARS,
    MISSING,
    Block,
    Message,
    affordable_button_value,
    button_element,
    context_block,
    fields_block,
    format_number,
    header_block,
    plain_text,
    plural,
    render_notice,
    section_block,
)
from bot.rendering.ids import INVITE_COMMAND, ActionId, BlockId, ChannelError
from bot.rendering.mrkdwn import escape_within, truncate
from bot.store import Watch

__all__ = [
    "MAX_LISTED_USERS",
    "alert_payload",
    "message_payload",
    "render_alert",
    "render_watch_paused",
]


MAX_LISTED_USERS = 10
"""Users named in one alert; the rest are counted as "…and N more"."""

ARROW = "→"

# Bounds, in `text_cost` units, of each piece of outside text after escaping.
_CUSTOMER_COST = 80
_EMAIL_COST = 80
_PRODUCT_COST = 40
_USER_EMAIL_COST = 80
_USER_NAME_COST = 60
_CODE_COST = 60
_COMMAND_COST = 160
_HINT_CHARS = 300

_SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")

# Why Slack would not take an alert: the codes the poller pauses a watch for.
_PAUSE_REASONS: dict[str, str] = {
    ChannelError.NOT_IN_CHANNEL: "I am not a member of that channel any more",
    ChannelError.CHANNEL_NOT_FOUND: (
        "Slack cannot find that channel (deleted, or private without me)"
    ),
    ChannelError.IS_ARCHIVED: "the channel was archived",
}

_USER_KINDS = frozenset(
    {
        AlertKind.REACHED_LIMIT,
        AlertKind.USERS_ADDED,
        AlertKind.USERS_REMOVED,
        AlertKind.USERS_DEACTIVATED,
        AlertKind.USERS_REACTIVATED,
    }
)

_CHANGE_KINDS = _USER_KINDS | {AlertKind.THRESHOLD_CROSSED, AlertKind.THRESHOLD_RECOVERED}

# The figure an alert's `before`/`after` count, for the fallback text.
_FIGURE_NAMES = {
    AlertKind.REACHED_LIMIT: "at limit",
    AlertKind.THRESHOLD_CROSSED: "activations",
    AlertKind.THRESHOLD_RECOVERED: "activations",
    AlertKind.USERS_ADDED: "users",
    AlertKind.USERS_REMOVED: "users",
    AlertKind.USERS_DEACTIVATED: "active users",
    AlertKind.USERS_REACTIVATED: "active users",
    AlertKind.LOOKUP_FAILING: "failed lookups in a row",
}
_PERCENT_KINDS = frozenset(
    {AlertKind.BASELINE, AlertKind.THRESHOLD_CROSSED, AlertKind.THRESHOLD_RECOVERED}
)

# Per kind: header emoji and what happened to the users ("2 users <verb>").
_USER_VERBS = {
    AlertKind.REACHED_LIMIT: (":no_entry:", "reached their activation limit"),
    AlertKind.USERS_ADDED: (":heavy_plus_sign:", "added"),
    AlertKind.USERS_REMOVED: (":heavy_minus_sign:", "removed"),
    AlertKind.USERS_DEACTIVATED: (":white_circle:", "deactivated"),
    AlertKind.USERS_REACTIVATED: (":large_green_circle:", "reactivated"),
}


# ---------------------------------------------------------------------------------------------
# Alerts


def render_alert(
    alert: Alert,
    *,
    watch_id: int,
    product: str,
    customer_email: str,
    previous: Snapshot | None,
    current: Snapshot | None,
    threshold_pct: int,
) -> Message:
    """The channel message for one alert of a watch.

    `current` is the snapshot the alert came from (for lookup alerts: the last known one, or
    None); `previous` the one before it. The numbers block shows `current`'s figures, with
    "before → after" where `previous` differs. Buttons: Show users, Snooze 24h, Unwatch.
    """
    customer = _customer(previous, current, customer_email)
    product_text = escape_within(product, _PRODUCT_COST) or MISSING
    blocks: list[Block] = [
        header_block(_headline(alert, customer, product_text, threshold_pct)),
        context_block(_context_text(customer_email, product_text, threshold_pct)),
        section_block(_change_text(alert, previous, current, threshold_pct)),
    ]
    if current is not None:
        blocks.append(fields_block(_figure_fields(alert, previous, current)))
    blocks.append(_actions(watch_id, product, customer_email))
    text = _fallback(alert, customer, customer_email, product_text, threshold_pct)
    return Message(text=text, blocks=blocks)


def _customer(previous: Snapshot | None, current: Snapshot | None, customer_email: str) -> str:
    """Escaped: the customer's name from the newest snapshot, else the watched e-mail."""
    for snapshot in (current, previous):
        if snapshot is not None:
            name = escape_within(snapshot.customer_name, _CUSTOMER_COST)
            if name:
                return name
    return escape_within(customer_email, _CUSTOMER_COST) or "Unknown customer"


def _headline(alert: Alert, customer: str, product: str, threshold_pct: int) -> str:
    """The header without markup (it is plain_text), e.g. ":no_entry: 2 users … — Ada"."""
    kind = alert.kind
    if kind in _USER_VERBS:
        emoji, verb = _USER_VERBS[kind]
        phrase = _users_phrase(alert)
        return f"{emoji} {phrase[:1].upper()}{phrase[1:]} {verb} — {customer}"
    threshold = _percent(threshold_pct)
    if kind is AlertKind.THRESHOLD_CROSSED:
        return f":warning: Activations at {_percent(alert.after)} (≥ {threshold}) — {customer}"
    if kind is AlertKind.THRESHOLD_RECOVERED:
        return f":white_check_mark: Activations back below {threshold} — {customer}"
    if kind is AlertKind.LOOKUP_FAILING:
        return f":x: Lookups for {customer} keep failing"
    if kind is AlertKind.LOOKUP_RECOVERED:
        return f":white_check_mark: Lookups for {customer} work again"
    return f":eyes: Now watching {customer} in {product}"


def _users_phrase(alert: Alert) -> str:
    return plural(len(alert.users), "user") if alert.users else "users"


def _percent(value: int | None) -> str:
    return MISSING if value is None else f"{format_number(value)}%"


def _context_text(customer_email: str, product: str, threshold_pct: int) -> str:
    email = escape_within(customer_email, _EMAIL_COST) or MISSING
    return f"{email} · Product: *{product}* · Alert threshold: {_percent(threshold_pct)}"


# --- what changed ----------------------------------------------------------------------------


def _change_text(
    alert: Alert, previous: Snapshot | None, current: Snapshot | None, threshold_pct: int
) -> str:
    kind, threshold = alert.kind, _percent(threshold_pct)
    if kind in _USER_KINDS:
        source = previous if kind is AlertKind.USERS_REMOVED else current
        return "\n".join(_user_lines(alert.users, source, previous)) or "No users named."
    if kind is AlertKind.THRESHOLD_CROSSED:
        return (
            f"Activations of all license users went from {_percent(alert.before)} to "
            f"*{_percent(alert.after)}* of the maximum: at or above the alert threshold "
            f"of {threshold}."
        )
    if kind is AlertKind.THRESHOLD_RECOVERED:
        return (
            f"Activations of all license users went from {_percent(alert.before)} to "
            f"*{_percent(alert.after)}* of the maximum: below the alert threshold "
            f"of {threshold} again."
        )
    if kind is AlertKind.LOOKUP_FAILING:
        return _failing_text(alert)
    if kind is AlertKind.LOOKUP_RECOVERED:
        return _recovered_text(alert)
    return (
        f"I'll post here when users reach their activation limit, when the activations of all "
        f"license users cross {threshold} of the maximum (either way), and when users are "
        "added, removed, deactivated or reactivated."
    )


def _user_lines(
    emails: Sequence[str], source: Snapshot | None, fallback: Snapshot | None
) -> list[str]:
    """A line per listed user, then "…and N more" for the rest."""
    lines = [
        _user_line(email, _state(email, source, fallback)) for email in emails[:MAX_LISTED_USERS]
    ]
    hidden = len(emails) - MAX_LISTED_USERS
    if hidden > 0:
        lines.append(f"…and {format_number(hidden)} more")
    return lines


def _state(email: str, *snapshots: Snapshot | None) -> UserState | None:
    for snapshot in snapshots:
        if snapshot is not None and email_key(email) in snapshot.users:
            return snapshot.users[email_key(email)]
    return None


def _user_line(email: str, state: UserState | None) -> str:
    parts = [escape_within(email, _USER_EMAIL_COST) or MISSING]
    if state is not None:
        name = escape_within(state.name, _USER_NAME_COST)
        if name:
            parts.append(name)
        parts.append(_user_status(state))
        parts.append(f"activations {_used_of(state.activations, state.max_activations)}")
    return "• " + " · ".join(parts)


def _user_status(state: UserState) -> str:
    if state.at_limit:
        return "at activation limit"
    return "active" if state.active else "inactive"


def _used_of(used: int, maximum: int | None) -> str:
    return f"{format_number(used)}/{MISSING if maximum is None else format_number(maximum)}"


def _failing_text(alert: Alert) -> str:
    code = _code(alert.detail or "unknown_error")
    hint = hint_for(alert.detail or "")
    failures = f"The last {plural(alert.after, 'lookup')} failed" if alert.after else "Lookups fail"
    text = f"{failures} with {code}."
    if hint:
        text += f" {escape_within(hint, _HINT_CHARS)}"
    return (
        f"{text}\nThe watch keeps being retried, less often while it fails (backoff); "
        "I'll post once when lookups work again."
    )


def _recovered_text(alert: Alert) -> str:
    if alert.before:
        return f"The lookup succeeded after {plural(alert.before, 'failed lookup')}."
    return "The lookup succeeded again."


# --- figures ---------------------------------------------------------------------------------


def _figure_fields(alert: Alert, previous: Snapshot | None, current: Snapshot) -> list[str]:
    """Users, active, activations and at-limit figures; "before → after" where they changed.

    Baseline and lookup alerts show `current` alone: they are not about a change of figures.
    """
    before = previous if alert.kind in _CHANGE_KINDS else None
    return [
        f"*Users*\n{_change(before, current, _total)}",
        f"*Active*\n{_change(before, current, _active)}",
        f"*Activations*\n{_change(before, current, _activations)}{_active_share(before, current)}",
        f"*At limit*\n{_change(before, current, _at_limit)}",
    ]


def _total(snapshot: Snapshot) -> str:
    return format_number(snapshot.total_count)


def _active(snapshot: Snapshot) -> str:
    return format_number(snapshot.active_count)


def _at_limit(snapshot: Snapshot) -> str:
    return format_number(snapshot.at_limit_count)


def _activations(snapshot: Snapshot) -> str:
    """ "45/50 (90%)", or "45 (maximum unknown)"."""
    used, percent = format_number(snapshot.activations_used), snapshot.utilisation_pct
    if percent is None:
        return f"{used} (maximum unknown)"
    return f"{used}/{format_number(snapshot.activations_max)} ({format_number(percent)}%)"


def _active_activations(snapshot: Snapshot) -> str:
    used, maximum = snapshot.active_activations_used, snapshot.active_activations_max
    if maximum <= 0:
        return f"{format_number(used)} (maximum unknown)"
    return f"{format_number(used)}/{format_number(maximum)}"


def _active_share(before: Snapshot | None, current: Snapshot) -> str:
    """ "\nactive users: 29/49" when inactive users hold part of the headline figure."""
    if current.active_count == current.total_count and (
        before is None or before.active_count == before.total_count
    ):
        return ""
    return f"\nactive users: {_change(before, current, _active_activations)}"


def _change(before: Snapshot | None, after: Snapshot, figure: Callable[[Snapshot], str]) -> str:
    now = figure(after)
    if before is None:
        return now
    then = figure(before)
    return now if then == now else f"{then} {ARROW} {now}"


# --- buttons and fallback --------------------------------------------------------------------


def _actions(watch_id: int, product: str, customer_email: str) -> Block:
    elements: list[dict[str, Any]] = []
    value = affordable_button_value(product, customer_email, 0)
    if value is not None:
        elements.append(button_element("Show users", ActionId.SHOW_USERS, value))
    elements.append(button_element("Snooze 24h", ActionId.SNOOZE, str(watch_id)))
    unwatch = button_element("Unwatch", ActionId.UNWATCH, str(watch_id))
    unwatch["style"] = "danger"
    unwatch["confirm"] = _unwatch_confirm(customer_email)
    elements.append(unwatch)
    return {"type": "actions", "block_id": BlockId.ALERT_ACTIONS, "elements": elements}


def _unwatch_confirm(customer_email: str) -> dict[str, Any]:
    email = escape_within(customer_email, _EMAIL_COST) or "this customer"
    return {
        "title": plain_text("Stop watching?"),
        "text": plain_text(f"No more alerts about {email} will be posted in this channel."),
        "confirm": plain_text("Unwatch"),
        "deny": plain_text("Cancel"),
        "style": "danger",
    }


def _fallback(
    alert: Alert, customer: str, customer_email: str, product: str, threshold_pct: int
) -> str:
    """One line: the headline's facts, the e-mail and product, the number that moved."""
    headline = _headline(alert, customer, product, threshold_pct).split(" ", 1)[1]
    email = escape_within(customer_email, _EMAIL_COST) or MISSING
    text = f"{headline} ({email}, {product})"
    if alert.kind in _USER_KINDS and alert.users:
        listed = ", ".join(escape_within(e, _USER_EMAIL_COST) for e in alert.users[:3])
        more = f" and {format_number(len(alert.users) - 3)} more" if len(alert.users) > 3 else ""
        text += f": {listed}{more}"
    figure = _fallback_figure(alert)
    if figure:
        text += f"; {figure}"
    return truncate(text, MAX_FALLBACK_TEXT_CHARS)


def _fallback_figure(alert: Alert) -> str:
    """ "at limit 1 → 3", "activations 88% → 91%", "failed lookups in a row 3", or ""."""
    show = _percent if alert.kind in _PERCENT_KINDS else _count
    if alert.kind is AlertKind.BASELINE:
        return f"activations {show(alert.after)}" if alert.after is not None else ""
    name = _FIGURE_NAMES.get(alert.kind)
    if name is None or alert.after is None:
        return ""
    if alert.before is None or alert.kind is AlertKind.LOOKUP_FAILING:
        return f"{name} {show(alert.after)}"
    return f"{name} {show(alert.before)} {ARROW} {show(alert.after)}"


def _count(value: int | None) -> str:
    return MISSING if value is None else format_number(value)


# ---------------------------------------------------------------------------------------------
# Notices about watches


def render_watch_paused(
    reason_code: str, *, product: str, customer_email: str, channel_id: str
) -> Message:
    """A DM to the watch's creator: alerts stopped because Slack refused to post them."""
    email = escape_within(customer_email, _EMAIL_COST) or MISSING
    channel = _channel(channel_id)
    reason = _PAUSE_REASONS.get(reason_code) or f"Slack answered {_code(reason_code)}"
    command = _code(f"/license-users watch {product} {customer_email}", _COMMAND_COST)
    if reason_code == ChannelError.IS_ARCHIVED:
        remedy = f"Run {command} in another channel to get them again."
    else:
        remedy = f"Invite me with `{INVITE_COMMAND}` and run {command} again."
    text = f":pause_button: I stopped posting alerts for {email} in {channel}: {reason}. {remedy}"
    return render_notice(text)


def _channel(channel_id: str) -> str:
    """A channel mention for a real channel id; anything else is shown escaped."""
    if _SLACK_CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return _code(channel_id)


def _code(text: str, cost: int = _CODE_COST) -> str:
    """Escaped outside text in a code span; its backticks become quotes so the span holds."""
    return "`" + (escape_within(text.replace("`", "'"), cost) or MISSING) + "`"


# ---------------------------------------------------------------------------------------------
# The outbox keeps what to post as JSON


def message_payload(message: Message) -> dict[str, Any]:
    return {"text": message.text, "blocks": message.blocks}


def alert_payload(
    watch: Watch, alert: Alert, previous: Snapshot | None, current: Snapshot | None
) -> dict[str, Any]:
    return message_payload(
        render_alert(
            alert,
            watch_id=watch.id,
            product=watch.product,
            customer_email=watch.customer_email,
            previous=previous,
            current=current or previous,
            threshold_pct=watch.threshold_pct,
        )
    )
