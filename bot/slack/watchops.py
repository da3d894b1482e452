"""Creating, snoozing and removing watches: one implementation for every surface.

The `watch` command, the alert buttons, the App Home and the watch modal all come through
here, so the membership check, the first lookup and the audit rows are the same everywhere.
Each function returns what to tell the person; the surface decides how to show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alert_rules import evaluate, snapshot_of
from bot.audit import Actor
from bot.rendering.alerts import alert_payload
from bot.rendering.blocks import render_notice, reverse_headline, reverse_note
from bot.rendering.ids import CANNOT_SEE_CHANNEL_CODES, INVITE_COMMAND
from bot.rendering.mrkdwn import escape
from bot.seats import Seats
from bot.slack.errors import BadInput, NotConfigured
from bot.slack.parsing import (
    DEFAULT_THRESHOLD_PCT,
    ListWatchesRequest,
    UnwatchRequest,
    WatchRequest,
)
from bot.slack.replier import Replier
from bot.slack.replies import lookup_error_text
from bot.slack.services import Services
from bot.slack.watchview import render_watch_list
from bot.store import CheckResult, Store, Watch
from bot.summary import Summary
from bot.webhooks.events import watch_keys

log = structlog.get_logger("slack.watchops")

SNOOZE = timedelta(hours=24)
INVITE_HINT = f"Invite me there with `{INVITE_COMMAND}`, then run the command again."
NO_STORE_TEXT = "Alerts need a store (DATABASE_URL)."

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


async def channel_problem(client: AsyncWebClient, channel: str) -> ChannelProblem | None:
    """Why the bot could not post alerts in `channel`, or None when it can."""
    if not channel.startswith(("C", "G")):
        return ChannelProblem("not_a_channel", channel)
    try:
        response = await client.conversations_info(channel=channel)
    except SlackApiError as error:
        code = error.response.get("error")
        if code in CANNOT_SEE_CHANNEL_CODES:
            return ChannelProblem("cannot_see", channel)
        return ChannelProblem("slack_error", channel, str(code))
    info = response.get("channel") or {}
    if info.get("is_archived"):
        return ChannelProblem("archived", channel)
    if not info.get("is_member"):
        return ChannelProblem("not_member", channel)
    return None


WatchField = Literal["product", "email", "channel"]


@dataclass(frozen=True, slots=True)
class WatchResult:
    """What became of a request to watch; `text` is mrkdwn for the person who asked."""

    text: str
    watch: Watch | None = None
    created: bool = False
    field: WatchField | None = None  # the input to blame, when one is wrong
    problem: ChannelProblem | None = None


async def create_watch(
    services: Services,
    client: AsyncWebClient,
    actor: Actor,
    *,
    reference: str,
    product: str,
    email: str,
    channel: str,
    threshold_pct: int,
    check_channel: bool = True,
) -> WatchResult:
    """Check the channel, look the customer up once, then store the watch and audit it."""
    store = services.store
    if store is None:
        return WatchResult(f":x: {NO_STORE_TEXT}")
    problem = await channel_problem(client, channel) if check_channel else None
    if problem is not None:
        return WatchResult(f":x: {problem.for_command()}", field="channel", problem=problem)
    outcome = (
        await services.lookups.lookup(
            (product,), email, surface="watch", reference=reference, actor=actor
        )
    )[0]
    if outcome.error is not None:
        text = lookup_error_text(
            outcome.error,
            product=product,
            email=email,
            known_products=services.settings.licensespring_products,
        )
        code = outcome.error.code
        blamed: WatchField | None = (
            "product"
            if code in {"unknown_product", "invalid_product_auth_method"}
            else "email"
            if code in {"customer_does_not_exist", "customer_not_found"}
            else None
        )
        if outcome.reverse is not None:
            text += " " + reverse_note(outcome.reverse, product)
        return WatchResult(text, field=blamed)
    # Given a license user's e-mail, the watch is on the customer found (and says so).
    found = reverse_headline(outcome.reverse) if outcome.reverse is not None else None
    email = outcome.email
    watch, created = await store.watches.add(
        product=product,
        customer_email=email,
        channel_id=channel,
        threshold_pct=threshold_pct,
        created_by=actor.slack_user,
        now=datetime.now(UTC),
    )
    await services.auditor.record(
        actor,
        "watch",
        outcome="created" if created else "updated",
        product=product,
        customer_email=email,
        reference=reference,
        detail=f"watch {watch.id} in {channel} at {threshold_pct}%",
    )
    if watch.last_snapshot is None and outcome.summary is not None:
        await _take_baseline(store, watch, outcome.summary, outcome.seats)
    verb = "Watching" if created else "Still watching"
    return WatchResult(
        (f"{found}: watching the customer.\n" if found else "")
        + f":eyes: {verb} `{escape(email)}` in `{escape(product)}` for "
        f"<#{channel}> (watch {watch.id}), alerting at {threshold_pct}% of the activations of "
        "all license users. The first check posts a short confirmation there.",
        watch=watch,
        created=created,
    )


async def _take_baseline(
    store: Store, watch: Watch, summary: Summary, seats: Seats | None = None
) -> None:
    """The lookup just made is the watch's first snapshot, so the first change alerts even
    when the next poll is hours away. Its confirmation waits in the outbox; the watch is due
    now, so the poller posts it at once."""
    now = datetime.now(UTC)
    current = snapshot_of(summary, seats)
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


def describe(watch: Watch) -> str:
    return (
        f"watch {watch.id} (`{escape(watch.customer_email)}` in `{escape(watch.product)}` "
        f"for <#{watch.channel_id}>)"
    )


async def audit_unwatch(services: Services, actor: Actor, watch: Watch) -> None:
    await services.auditor.record(
        actor,
        "unwatch",
        outcome="removed",
        product=watch.product,
        customer_email=watch.customer_email,
        detail=f"watch {watch.id} in {watch.channel_id}",
    )


async def snooze_watch(services: Services, actor: Actor, watch_id: int) -> str:
    """Snooze the watch's alerts for 24 hours; what to tell the person."""
    if services.store is None:
        return f":x: {NO_STORE_TEXT}"
    until = datetime.now(UTC) + SNOOZE
    watch = await services.store.watches.snooze(watch_id, until)
    if watch is None:
        return f":x: Watch {watch_id} no longer exists."
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
    return f":zzz: Alerts for `{escape(watch.customer_email)}` are snoozed until {when}."


async def remove_watch(services: Services, actor: Actor, watch_id: int) -> str:
    """Remove the watch; what to tell the person."""
    if services.store is None:
        return f":x: {NO_STORE_TEXT}"
    removed = await services.store.watches.remove(watch_id)
    if removed is None:
        return f":x: Watch {watch_id} no longer exists."
    await audit_unwatch(services, actor, removed)
    return f":white_check_mark: Stopped {describe(removed)}."


# --- the `watch`, `unwatch` and `watches` subcommands ----------------------------------------


async def watch_command(
    request: WatchRequest, actor: Actor, reference: str, replier: Replier, services: Services
) -> None:
    result = await create_watch(
        services,
        replier.client,
        actor,
        reference=reference,
        product=request.product,
        email=request.email,
        channel=request.channel or actor.channel or "",
        threshold_pct=request.threshold_pct or DEFAULT_THRESHOLD_PCT,
    )
    await replier.private(render_notice(result.text), replace=True)


async def unwatch_command(
    request: UnwatchRequest, actor: Actor, replier: Replier, services: Services
) -> None:
    store = services.store
    if store is None:
        raise NotConfigured(f":x: {NO_STORE_TEXT}")
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
        raise BadInput(f":x: {missing}")
    for watch in removed:
        await audit_unwatch(services, actor, watch)
    text = ":white_check_mark: Stopped " + ", ".join(describe(w) for w in removed)
    await replier.private(render_notice(text), replace=True)


async def list_command(request: ListWatchesRequest, replier: Replier, services: Services) -> None:
    store = services.store
    if store is None:
        raise NotConfigured(f":x: {NO_STORE_TEXT}")
    watches = await store.watches.all(request.channel)
    message = render_watch_list(watches, channel=request.channel, now=datetime.now(UTC))
    await replier.private(message, replace=True)
