"""Access: who may use the bot, and where its answers may be seen. Decided once per request,
from the same typed value the listener acts on.

Every listener is registered through `bot.slack.core.routes`, which attaches a `Guard` with
the surface's reader: the reader parses the payload the way the listener needs it (the command
grammar with the product settings, the pressed button's state, the submitted form) into an
`Understood`, the guard checks it against the lists and puts the parsed value into the
request context as `asked`, and the listener takes `asked` by name. A refusal is answered in
the ack, before any listener or License API call runs.

- `ALLOWED_USER_IDS` / `ALLOWED_USERGROUP_IDS`: who may use the bot at all (every surface).
- `ALLOWED_CHANNEL_IDS`: where answers may be posted visibly (shares, thread replies, retries
  in threads, escalations, watches). The configured escalation channel counts as allowed.
Empty lists allow everyone and everywhere.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import structlog
from slack_bolt import BoltResponse
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor, Auditor
from bot.config import Settings
from bot.rendering.blocks import render_notice
from bot.rendering.home import render_refused_home
from bot.rendering.modals import notice_modal
from bot.slack.core.failures import remember
from bot.slack.core.replier import Replier
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
ACCESS_UNKNOWN_TEXT = (
    ":hourglass: I could not check your access in time (Slack did not list the allowed user "
    "groups). Try again in a moment."
)
GROUP_CACHE_TTL_S = 60.0
GROUP_CHECK_BUDGET_S = 1.5
"""Of Slack's 3 s for the ack, what reading a user group may take; past it the request is
refused for now (fails closed) and the read goes on for the next request."""

T = TypeVar("T")


class Surface(StrEnum):
    """Where a request came from: decides how a refusal is answered."""

    COMMAND = "command"
    MENTION = "mention"
    SHORTCUT = "shortcut"
    ACTION = "action"
    VIEW = "view"
    HOME = "home"
    STEP = "step"


@dataclass(frozen=True, slots=True)
class Understood(Generic[T]):
    """A request as its listener will act on it, and what that means for access.

    `user`: whom the lists are checked for (None: no person; refused while any list is set).
    `posts_in`: a channel where the answer will be visible to others (None: private).
    `channel_field`: a form's block to show a channel refusal under.
    `checked`: False only where the listener will do nothing for anyone (no check needed).
    """

    asked: T
    user: str | None
    posts_in: str | None = None
    channel_field: str | None = None
    checked: bool = True


Reader = Callable[[dict[str, Any], Actor | None, Settings], Understood[Any]]
"""Parses one surface's payload, once; pure."""


class AccessPolicy:
    """The lists; empty lists allow all."""

    def __init__(
        self,
        settings: Settings,
        client: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        group_budget_s: float = GROUP_CHECK_BUDGET_S,
    ) -> None:
        self._users = frozenset(settings.allowed_user_ids)
        self._groups = tuple(settings.allowed_usergroup_ids)
        channels = set(settings.allowed_channel_ids)
        if channels and settings.escalation_channel_id:
            channels.add(settings.escalation_channel_id)
        self._channels = frozenset(channels)
        self._client = client
        self._clock = clock
        self._group_budget_s = group_budget_s
        self._group_members: dict[str, tuple[float, frozenset[str]]] = {}
        self._group_reads: dict[str, asyncio.Task[frozenset[str] | None]] = {}

    @property
    def restricts_users(self) -> bool:
        return bool(self._users or self._groups)

    @property
    def restricts_anything(self) -> bool:
        return self.restricts_users or bool(self._channels)

    async def user_allowed(self, user_id: str) -> bool | None:
        """True or False; None when a user group could not be read within the budget."""
        if not self.restricts_users or user_id in self._users:
            return True
        unknown = False
        for group in self._groups:
            members = await self._members(group)
            if members is None:
                unknown = True
            elif user_id in members:
                return True
        return None if unknown else False

    def channel_allowed(self, channel_id: str | None) -> bool:
        return not self._channels or channel_id in self._channels

    async def _members(self, group: str) -> frozenset[str] | None:
        """The group's members: fresh from the cache, else one read shared by every caller,
        waited for up to the budget; a stale list is used while a new one is read."""
        cached = self._group_members.get(group)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        read = self._group_reads.get(group)
        if read is None:
            read = asyncio.ensure_future(self._read_group(group))
            self._group_reads[group] = read
            read.add_done_callback(lambda _: self._group_reads.pop(group, None))
        if cached is not None and not read.done():
            return cached[1]  # stale for one more read: nobody waits on the refresh
        try:
            return await asyncio.wait_for(asyncio.shield(read), self._group_budget_s)
        except TimeoutError:
            log.warning("usergroup_slow", usergroup=group, budget_s=self._group_budget_s)
            return None

    async def _read_group(self, group: str) -> frozenset[str] | None:
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as error:
            # Fail closed: an unreadable group grants nobody access, but we do not cache it.
            log.warning("usergroup_unreadable", usergroup=group, error=error.response["error"])
            return frozenset()
        except OSError as error:
            log.warning("usergroup_unreadable", usergroup=group, error=type(error).__name__)
            return frozenset()
        members = frozenset(str(u) for u in response.get("users") or [])
        self._group_members[group] = (self._clock() + GROUP_CACHE_TTL_S, members)
        return members


@dataclass(frozen=True, slots=True)
class Refusal:
    text: str
    reason: str  # user_not_allowed | channel_not_allowed | access_unknown | no_person


class Gate:
    """The policy, the audit log and the way back to the person: what every Guard shares."""

    def __init__(self, policy: AccessPolicy, auditor: Auditor, tasks: TaskTracker) -> None:
        self.policy = policy
        self.auditor = auditor
        self.tasks = tasks

    async def refusal(self, understood: Understood[Any]) -> Refusal | None:
        if not understood.checked:
            return None
        if understood.user is None:
            if self.policy.restricts_anything:
                return Refusal(NOT_ALLOWED_TEXT, "no_person")
            return None
        allowed = await self.policy.user_allowed(understood.user)
        if allowed is None:
            return Refusal(ACCESS_UNKNOWN_TEXT, "access_unknown")
        if not allowed:
            return Refusal(NOT_ALLOWED_TEXT, "user_not_allowed")
        if understood.posts_in is not None and not self.policy.channel_allowed(understood.posts_in):
            return Refusal(CHANNEL_NOT_ALLOWED_TEXT, "channel_not_allowed")
        return None


class Guard(AsyncMiddleware):
    """Listener middleware: parse the request once, decide access, hand the parsed value on.

    A class, not a function: Bolt injects no keyword arguments into these, which keeps the
    per-request cost down.
    """

    def __init__(self, surface: Surface, read: Reader, gate: Gate, settings: Settings) -> None:
        self.surface = surface
        self.read = read
        self._gate = gate
        self._settings = settings

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse | None]],
    ) -> BoltResponse | None:
        actor: Actor | None = req.context.get("actor")
        if actor is None and self.surface is not Surface.STEP:
            return BoltResponse(status=200, body="")  # no person sent it: nothing to do for one
        understood = self.read(req.body, actor, self._settings)
        req.context["asked"] = understood.asked
        remember(req.body, req.context)
        refusal = await self._gate.refusal(understood)
        if self.surface is Surface.STEP:
            # A step is acknowledged by Bolt and ended by its listener, with its own sentence.
            req.context["refusal"] = refusal
            await next()
            return resp
        if refusal is None:
            await next()
            return resp
        replier: Replier | None = req.context.get("replier")
        who = actor or Actor(understood.user or "", None)
        self._gate.tasks.spawn(self._refuse_later(who, req.body, refusal, replier), name="refusal")
        return self._refusal_ack(understood, refusal)

    def _refusal_ack(self, understood: Understood[Any], refusal: Refusal) -> BoltResponse:
        if self.surface is Surface.COMMAND:
            return _json({"response_type": "ephemeral", "text": refusal.text})
        if self.surface is Surface.VIEW:
            if refusal.reason == "channel_not_allowed" and understood.channel_field:
                return _json(
                    {
                        "response_action": "errors",
                        "errors": {understood.channel_field: CHANNEL_NOT_ALLOWED_FOR_ALERTS},
                    }
                )
            view = notice_modal("License users", refusal.text)
            return _json({"response_action": "update", "view": view})
        return BoltResponse(status=200, body="")

    async def _refuse_later(
        self, actor: Actor, body: dict[str, Any], refusal: Refusal, replier: Replier | None
    ) -> None:
        await self._gate.auditor.record(
            actor, "refused", outcome=refusal.reason, detail=self.surface.value
        )
        if replier is None:
            return
        view: dict[str, Any] = body["view"] if isinstance(body.get("view"), dict) else {}
        try:
            if self.surface is Surface.HOME or (
                self.surface is Surface.ACTION and view.get("type") == "home"
            ):
                await replier.publish_home(actor.slack_user, render_refused_home(refusal.text))
            elif self.surface is Surface.ACTION and view.get("type") == "modal" and view.get("id"):
                await replier.update_modal(
                    str(view["id"]), notice_modal("License users", refusal.text)
                )
            elif (
                self.surface is Surface.SHORTCUT
                and not body.get("response_url")
                and body.get("trigger_id")
            ):
                # A global shortcut has no response_url; its trigger_id opens the refusal.
                await replier.open_modal(
                    str(body["trigger_id"]), notice_modal("License users", refusal.text)
                )
            elif self.surface in {Surface.ACTION, Surface.SHORTCUT, Surface.MENTION}:
                await replier.private(render_notice(refusal.text))
        except Exception as error:  # noqa: BLE001 - best effort; the audit row is kept
            log.warning("refusal_not_delivered", surface=self.surface.value, error=str(error))


def _json(answer: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
    )
