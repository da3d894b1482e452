"""`/license-users watch | unwatch | watches`, and the Snooze / Unwatch buttons on alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.messages import ACTION_SNOOZE, ACTION_UNWATCH
from bot.alerts.poller import alert_payload
from bot.alerts.rules import Snapshot, evaluate, snapshot_of
from bot.audit import Actor
from bot.lookup import new_reference
from bot.slack.blocks import Message, render_notice
from bot.slack.mrkdwn import escape, escape_within
from bot.slack.parsing import (
    DEFAULT_THRESHOLD_PCT,
    ListWatchesRequest,
    UnwatchRequest,
    WatchRequest,
)
from bot.slack.replies import lookup_error_text
from bot.store import CheckResult, Store, Watch
from bot.summary import Summary
from bot.webhooks.events import watch_keys

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.watching")

SNOOZE = timedelta(hours=24)
INVITE_HINT = "Invite me there with `/invite @License Users`, then run the command again."
MAX_LISTED_WATCHES = 100
_SECTION_CHARS = 2_800


async def channel_problem(client: AsyncWebClient, channel: str) -> str | None:
    """Why the bot could not post alerts in `channel`, or None when it can."""
    if not channel.startswith(("C", "G")):
        return "Alerts go to a channel: run the command in one, or name one with `#channel`."
    try:
        response = await client.conversations_info(channel=channel)
    except SlackApiError as error:
        code = error.response.get("error")
        if code in {"channel_not_found", "not_in_channel"}:
            return f"I can't see <#{channel}>. {INVITE_HINT}"
        return f"Slack would not tell me about <#{channel}> ({escape(str(code))})."
    info = response.get("channel") or {}
    if info.get("is_archived"):
        return f"<#{channel}> is archived."
    if not info.get("is_member"):
        return f"I'm not a member of <#{channel}>. {INVITE_HINT}"
    return None


async def handle_watch(
    request: WatchRequest,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    services: Services,
) -> None:
    store = services.store
    actor = Actor(str(command.get("user_id", "")), command.get("channel_id"))
    channel = request.channel or str(command.get("channel_id", ""))
    threshold = request.threshold_pct or DEFAULT_THRESHOLD_PCT
    problem = await channel_problem(client, channel)
    if store is None or problem is not None:
        await _say(respond, f":x: {problem or 'Alerts need a store (DATABASE_URL).'}")
        return
    reference = new_reference()
    outcome = (
        await services.lookups.lookup(
            (request.product,), request.email, surface="watch", reference=reference, actor=actor
        )
    )[0]
    if outcome.error is not None:
        await _say(
            respond,
            lookup_error_text(
                outcome.error,
                product=request.product,
                email=request.email,
                known_products=services.settings.licensespring_products,
            ),
        )
        return
    watch, created = await store.watches.add(
        product=request.product,
        customer_email=request.email,
        channel_id=channel,
        threshold_pct=threshold,
        created_by=actor.slack_user,
        now=datetime.now(UTC),
    )
    await services.auditor.record(
        actor,
        "watch",
        outcome="created" if created else "updated",
        product=request.product,
        customer_email=request.email,
        reference=reference,
        detail=f"watch {watch.id} in {channel} at {threshold}%",
    )
    if watch.last_snapshot is None and outcome.summary is not None:
        await _take_baseline(store, watch, outcome.summary)
    verb = "Watching" if created else "Still watching"
    await _say(
        respond,
        f":eyes: {verb} `{escape(request.email)}` in `{escape(request.product)}` for "
        f"<#{channel}> (watch {watch.id}), alerting at {threshold}% of activations. "
        "The first check posts a short confirmation there.",
    )


async def _take_baseline(store: Store, watch: Watch, summary: Summary) -> None:
    """The lookup just made is the watch's first snapshot, so the first change alerts even
    when the next poll is hours away. Its confirmation waits in the outbox; the watch is due
    now, so the poller posts it at once."""
    now = datetime.now(UTC)
    current = snapshot_of(summary)
    alerts = evaluate(None, current, watch.threshold_pct)
    result = CheckResult(
        outcome="ok",
        snapshot=current.to_json(),
        consecutive_failures=0,
        failure_alerted=False,
        next_check_at=now,
        alerts=[(a.kind.value, alert_payload(watch, a, None, current)) for a in alerts],
        keys=watch_keys(summary),
    )
    if not await store.watches.save_baseline(watch, result, now=now):
        log.info("watch_baseline_skipped", watch_id=watch.id)


async def handle_unwatch(
    request: UnwatchRequest, command: dict[str, Any], respond: AsyncRespond, services: Services
) -> None:
    store = services.store
    if store is None:
        await _say(respond, ":x: Alerts need a store (DATABASE_URL).")
        return
    actor = Actor(str(command.get("user_id", "")), command.get("channel_id"))
    if request.watch_id is not None:
        removed = [w for w in [await store.watches.remove(request.watch_id)] if w is not None]
        missing = f"No watch {request.watch_id}. See `/license-users watches`."
    else:
        assert request.email is not None
        removed = await store.watches.remove_by_email(request.email, actor.channel)
        missing = (
            f"No watch of `{escape(request.email)}` in this channel. See `/license-users watches`."
        )
    if not removed:
        await _say(respond, f":x: {missing}")
        return
    for watch in removed:
        await _audit_unwatch(services, actor, watch)
    await _say(respond, ":white_check_mark: Stopped " + ", ".join(_describe(w) for w in removed))


async def _audit_unwatch(services: Services, actor: Actor, watch: Watch) -> None:
    await services.auditor.record(
        actor,
        "unwatch",
        outcome="removed",
        product=watch.product,
        customer_email=watch.customer_email,
        detail=f"watch {watch.id} in {watch.channel_id}",
    )


def _describe(watch: Watch) -> str:
    return (
        f"watch {watch.id} (`{escape(watch.customer_email)}` in `{escape(watch.product)}` "
        f"for <#{watch.channel_id}>)"
    )


async def handle_list(
    request: ListWatchesRequest, respond: AsyncRespond, services: Services
) -> None:
    store = services.store
    if store is None:
        await _say(respond, ":x: Alerts need a store (DATABASE_URL).")
        return
    watches = await store.watches.all(request.channel)
    message = render_watch_list(watches, channel=request.channel, now=datetime.now(UTC))
    await respond(
        text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=True
    )


def render_watch_list(watches: list[Watch], *, channel: str | None, now: datetime) -> Message:
    """Pure: the watches, one line each, in sections that respect Block Kit's limits."""
    where = f" in <#{channel}>" if channel else ""
    if not watches:
        return render_notice(f"No watches{where}. Start one with `/license-users watch …`.")
    lines = [_watch_line(w, now) for w in watches[:MAX_LISTED_WATCHES]]
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


def _watch_line(watch: Watch, now: datetime) -> str:
    state = _state(watch, now)
    checked = (
        f"checked {_ago(now - watch.last_checked_at)} ago" if watch.last_checked_at else "not yet"
    )
    return (
        f"*{watch.id}* · `{escape_within(watch.customer_email, 80)}` · "
        f"`{escape_within(watch.product, 40)}` · <#{watch.channel_id}> · at {watch.threshold_pct}%"
        f" · {checked} · {state}"
    )


def _state(watch: Watch, now: datetime) -> str:
    if watch.paused_reason:
        return f":double_vertical_bar: paused ({escape(watch.paused_reason)})"
    if watch.snoozed(now):
        return ":zzz: snoozed"
    if watch.last_outcome and watch.last_outcome != "ok":
        return f":warning: {escape(watch.last_outcome)}"
    snapshot = watch.last_snapshot if isinstance(watch.last_snapshot, dict) else None
    if snapshot is None:
        return "waiting for first check"
    parsed = Snapshot.from_json(snapshot)
    if parsed is None:
        return "ok"
    pct = parsed.utilisation_pct
    return f"{len(parsed.users)} users, {pct}% of activations" if pct is not None else "ok"


def _ago(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


async def _say(respond: AsyncRespond, text: str) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=True)


# --- buttons on alerts ---------------------------------------------------------------------


def register(app: AsyncApp, services: Services) -> None:
    async def snooze(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_alert_button(body, respond, services, snooze=True)

    async def unwatch(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_alert_button(body, respond, services, snooze=False)

    app.action(ACTION_SNOOZE)(services.tasks.listener(snooze))
    app.action(ACTION_UNWATCH)(services.tasks.listener(unwatch))


async def on_alert_button(
    body: dict[str, Any], respond: AsyncRespond, services: Services, *, snooze: bool
) -> None:
    store = services.store
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value", "")) if isinstance(actions[0], dict) else ""
    actor = Actor(
        str((body.get("user") or {}).get("id", "")), (body.get("channel") or {}).get("id")
    )
    if store is None or not value.isdigit():
        await _private(respond, ":warning: That button is no longer valid.")
        return
    watch_id = int(value)
    if snooze:
        until = datetime.now(UTC) + SNOOZE
        watch = await store.watches.snooze(watch_id, until)
        if watch is None:
            await _private(respond, f":x: Watch {watch_id} no longer exists.")
            return
        await services.auditor.record(
            actor,
            "snooze",
            outcome="snoozed",
            product=watch.product,
            customer_email=watch.customer_email,
            detail=f"watch {watch_id} until {until:%Y-%m-%d %H:%M}Z",
        )
        fallback = f"{until:%Y-%m-%d %H:%M} UTC"
        when = f"<!date^{int(until.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
        await _private(
            respond, f":zzz: Alerts for `{escape(watch.customer_email)}` are snoozed until {when}."
        )
        return
    removed = await store.watches.remove(watch_id)
    if removed is None:
        await _private(respond, f":x: Watch {watch_id} no longer exists.")
        return
    await _audit_unwatch(services, actor, removed)
    await _private(respond, f":white_check_mark: Stopped {_describe(removed)}.")


async def _private(respond: AsyncRespond, text: str) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=False)
