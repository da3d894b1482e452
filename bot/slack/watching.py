"""`/license-users watch | unwatch | watches`, and the Snooze / Unwatch buttons on alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.messages import ACTION_SNOOZE, ACTION_UNWATCH
from bot.audit import Actor
from bot.slack.blocks import Message, render_notice
from bot.slack.home_publish import publish_home
from bot.slack.mrkdwn import escape
from bot.slack.parsing import (
    DEFAULT_THRESHOLD_PCT,
    ListWatchesRequest,
    UnwatchRequest,
    WatchRequest,
)
from bot.slack.watchops import (
    audit_unwatch,
    create_watch,
    describe,
    remove_watch,
    snooze_watch,
)
from bot.slack.watchview import watch_line
from bot.store import Watch

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.watching")

MAX_LISTED_WATCHES = 100
_SECTION_CHARS = 2_800


async def handle_watch(
    request: WatchRequest,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    services: Services,
) -> None:
    actor = Actor(str(command.get("user_id", "")), command.get("channel_id"))
    result = await create_watch(
        services,
        client,
        actor,
        product=request.product,
        email=request.email,
        channel=request.channel or str(command.get("channel_id", "")),
        threshold_pct=request.threshold_pct or DEFAULT_THRESHOLD_PCT,
    )
    await _say(respond, result.text)


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
        await audit_unwatch(services, actor, watch)
    await _say(respond, ":white_check_mark: Stopped " + ", ".join(describe(w) for w in removed))


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


async def _say(respond: AsyncRespond, text: str) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=True)


# --- buttons on alerts ---------------------------------------------------------------------


def register(app: AsyncApp, services: Services) -> None:
    async def snooze(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        await on_alert_button(body, respond, client, services, snooze=True)

    async def unwatch(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        await on_alert_button(body, respond, client, services, snooze=False)

    app.action(ACTION_SNOOZE)(services.tasks.listener(snooze))
    app.action(ACTION_UNWATCH)(services.tasks.listener(unwatch))


async def on_alert_button(
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    services: Services,
    *,
    snooze: bool,
) -> None:
    """Snooze 24h / Unwatch, on an alert (answered privately) or on the App Home (refreshed)."""
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value", "")) if isinstance(actions[0], dict) else ""
    actor = Actor(
        str((body.get("user") or {}).get("id", "")), (body.get("channel") or {}).get("id")
    )
    if services.store is None or not value.isdigit():
        text = ":warning: That button is no longer valid."
    elif snooze:
        text = await snooze_watch(services, actor, int(value))
    else:
        text = await remove_watch(services, actor, int(value))
    if (body.get("view") or {}).get("type") == "home":
        await publish_home(client, services, actor.slack_user, notice=text)
        return
    await respond(text=text, response_type="ephemeral", replace_original=False)
