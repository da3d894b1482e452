"""Access control as one Bolt middleware: who may use the bot, and where results may be posted.

Checked on every request before any listener runs: slash commands, mentions, shortcuts, modal
submissions, button presses (anyone who can see a message can press its buttons) and the App
Home (a refused person's Home says so in one line).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog
from slack_bolt import BoltResponse
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor, Auditor
from bot.config import Settings
from bot.rendering.blocks import render_notice
from bot.rendering.ids import ActionId, CallbackId
from bot.slack.home import render_refused_home
from bot.slack.modal_views import (
    CHANNEL_BLOCK,
    notice_modal,
    selected_channel,
)
from bot.slack.parsing import WatchRequest, parse_command
from bot.slack.replier import Replier
from bot.tasks import TaskTracker

log = structlog.get_logger("access")

NOT_ALLOWED_TEXT = (
    ":no_entry: You are not allowed to look up license users. "
    "Ask whoever runs this bot to add you (ALLOWED_USER_IDS or ALLOWED_USERGROUP_IDS)."
)
CHANNEL_NOT_ALLOWED_TEXT = (
    ":no_entry: License users may not be posted visibly in this channel. "
    "Use `/license-users` for a private answer, or ask for the channel to be allowed "
    "(ALLOWED_CHANNEL_IDS)."
)
CHANNEL_NOT_ALLOWED_FOR_ALERTS = (
    "Alerts may not be posted in that channel (ALLOWED_CHANNEL_IDS). Pick another one."
)
GROUP_CACHE_TTL_S = 60.0
# Button presses that post visibly in the channel they were pressed in.
VISIBLE_ACTIONS = frozenset({ActionId.SHARE})


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What one Slack request wants, as far as access control is concerned."""

    kind: str  # command | action | mention | shortcut | view | home
    actor: Actor
    posts_visibly_in: str | None  # channel where the result would be visible to others
    surface: str | None = None  # for actions and views: "home" or "modal" (a view's type)
    view_id: str | None = None
    callback_id: str | None = None  # for view submissions


def describe_request(body: dict[str, Any], actor: Actor | None) -> AccessRequest | None:
    """Pure: what a Slack payload from `actor` wants, as far as access control is concerned."""
    if actor is None:
        return None
    if "command" in body:
        # A watch posts alerts visibly in its target channel.
        parsed = parse_command(str(body.get("text") or ""))
        visible = (parsed.channel or actor.channel) if isinstance(parsed, WatchRequest) else None
        return AccessRequest("command", actor, visible)
    kind = body.get("type")
    if kind == "block_actions":
        action_ids = {a.get("action_id") for a in body.get("actions") or [] if isinstance(a, dict)}
        visible = actor.channel if action_ids & VISIBLE_ACTIONS else None
        view = _view(body)
        return AccessRequest(
            "action", actor, visible, surface=view.get("type"), view_id=view.get("id")
        )
    if kind in {"message_action", "shortcut"}:
        return AccessRequest("shortcut", actor, actor.channel)
    if kind == "view_submission":
        view = _view(body)
        callback_id = view.get("callback_id")
        if callback_id == CallbackId.WATCH_MODAL:  # alerts go to the channel picked
            return AccessRequest(
                "view",
                replace(actor, channel=None),
                selected_channel(view),
                callback_id=callback_id,
            )
        return AccessRequest("view", actor, actor.channel, callback_id=callback_id)
    if kind == "event_callback":
        event = body.get("event") or {}
        if event.get("type") == "app_home_opened" and event.get("tab") == "home":
            return AccessRequest("home", replace(actor, channel=None), None)
        if event.get("type") != "app_mention":
            return None
        return AccessRequest("mention", actor, actor.channel)
    return None


def _view(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    return view if isinstance(view, dict) else {}


class AccessPolicy:
    """ALLOWED_USER_IDS / ALLOWED_USERGROUP_IDS / ALLOWED_CHANNEL_IDS; empty lists allow all."""

    def __init__(
        self,
        settings: Settings,
        client: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = frozenset(settings.allowed_user_ids)
        self._groups = tuple(settings.allowed_usergroup_ids)
        self._channels = frozenset(settings.allowed_channel_ids)
        self._client = client
        self._clock = clock
        self._group_members: dict[str, tuple[float, frozenset[str]]] = {}
        self._group_lock = asyncio.Lock()

    @property
    def restricts_users(self) -> bool:
        return bool(self._users or self._groups)

    async def user_allowed(self, user_id: str) -> bool:
        if not self.restricts_users or user_id in self._users:
            return True
        for group in self._groups:
            if user_id in await self._members(group):
                return True
        return False

    def channel_allowed(self, channel_id: str | None) -> bool:
        return not self._channels or channel_id in self._channels

    async def _members(self, group: str) -> frozenset[str]:
        async with self._group_lock:
            cached = self._group_members.get(group)
            if cached is not None and self._clock() < cached[0]:
                return cached[1]
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
                members = frozenset(str(u) for u in response.get("users") or [])
            except SlackApiError as error:
                # Fail closed: an unreadable group grants nobody access, but we do not cache it.
                log.warning("usergroup_unreadable", usergroup=group, error=error.response["error"])
                return frozenset()
            self._group_members[group] = (self._clock() + GROUP_CACHE_TTL_S, members)
            return members


class AccessMiddleware(AsyncMiddleware):
    """A global Bolt middleware: refuse before any listener (and any License API call) runs.

    A class, not a function: Bolt injects no keyword arguments into these, which keeps the
    per-request cost down.
    """

    def __init__(self, policy: AccessPolicy, auditor: Auditor, tasks: TaskTracker) -> None:
        self._policy = policy
        self._auditor = auditor
        self._tasks = tasks

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        wanted = describe_request(req.body, req.context.get("actor"))
        refusal = await self._refusal(wanted) if wanted is not None else None
        if wanted is None or refusal is None:
            await next()
            return resp
        text, reason = refusal
        replier: Replier = req.context["replier"]
        self._tasks.spawn(
            _refuse_later(wanted, req.body, text, reason, self._auditor, replier),
            name="refusal",
        )
        return _refusal_ack(wanted, text, reason)

    async def _refusal(self, wanted: AccessRequest) -> tuple[str, str] | None:
        if not await self._policy.user_allowed(wanted.actor.slack_user):
            return NOT_ALLOWED_TEXT, "user_not_allowed"
        if wanted.posts_visibly_in is not None and not self._policy.channel_allowed(
            wanted.posts_visibly_in
        ):
            return CHANNEL_NOT_ALLOWED_TEXT, "channel_not_allowed"
        return None


def _refusal_ack(wanted: AccessRequest, text: str, reason: str) -> BoltResponse:
    if wanted.kind == "command":
        return BoltResponse(
            status=200,
            body=json.dumps({"response_type": "ephemeral", "text": text}),
            headers={"content-type": "application/json"},
        )
    if wanted.kind == "view":
        answer: dict[str, Any]
        if reason == "channel_not_allowed" and wanted.callback_id == CallbackId.WATCH_MODAL:
            answer = {
                "response_action": "errors",
                "errors": {CHANNEL_BLOCK: CHANNEL_NOT_ALLOWED_FOR_ALERTS},
            }
        else:
            answer = {"response_action": "update", "view": notice_modal("License users", text)}
        return BoltResponse(
            status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
        )
    return BoltResponse(status=200, body="")


async def _refuse_later(
    wanted: AccessRequest,
    body: dict[str, Any],
    text: str,
    reason: str,
    auditor: Auditor,
    replier: Replier,
) -> None:
    await auditor.record(wanted.actor, "refused", outcome=reason, detail=wanted.kind)
    try:
        if wanted.kind == "home" or (wanted.kind == "action" and wanted.surface == "home"):
            await replier.publish_home(wanted.actor.slack_user, render_refused_home(text))
        elif wanted.kind == "action" and wanted.surface == "modal" and wanted.view_id:
            await replier.update_modal(wanted.view_id, notice_modal("License users", text))
        elif wanted.kind == "shortcut" and not body.get("response_url") and body.get("trigger_id"):
            # A global shortcut has no response_url; its trigger_id opens the refusal.
            await replier.open_modal(str(body["trigger_id"]), notice_modal("License users", text))
        elif wanted.kind in {"action", "shortcut", "mention"}:
            await replier.private(render_notice(text))
    except Exception as error:  # noqa: BLE001 - the refusal is best effort; the audit row is kept
        log.warning("refusal_not_delivered", kind=wanted.kind, error=str(error))
