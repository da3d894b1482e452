"""One request context for every listener: who asks, from where, a reference, how to answer.

`RequestContextMiddleware` runs first on every request. It puts into Bolt's `context`, which
Bolt injects into listeners by name as it injects `ack` and `respond`:

- `actor`: the Slack user, channel, team and thread the request came from (None for events
  that no person sent);
- `reference`: a fresh short id, shown to the user with failures and bound to every log line
  of the request;
- `surface`: command, mention, shortcut, action, view, home or event;
- `replier`: answers on this surface (see `bot.slack.replier`);
- `services`: what listeners need, built once at start-up.

It also clears structlog's context variables and binds the request's own, so a log line and
the reference a user is shown always agree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt import BoltResponse
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.audit import Actor
from bot.lookup import new_reference
from bot.rendering.metadata import ProductChoice, read_metadata
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services


def actor_of(body: dict[str, Any]) -> Actor | None:
    """Pure: who sent a Slack payload, and from where; None when no person did.

    The one place an `Actor` is read out of a payload: slash commands, Events API callbacks
    (mentions, App Home), block actions, shortcuts and view submissions.
    """
    if "command" in body:
        return Actor(
            str(body.get("user_id", "")),
            _str(body.get("channel_id")),
            team=_str(body.get("team_id")),
        )
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event") or {}
        user = event.get("user")
        if not isinstance(user, str) or not user:
            return None
        return Actor(
            user,
            _str(event.get("channel")),
            team=_str(body.get("team_id")),
            thread_ts=_str(event.get("thread_ts") or event.get("ts")),
        )
    if kind in {"block_actions", "message_action", "shortcut", "view_submission", "view_closed"}:
        user = (body.get("user") or {}).get("id")
        if not isinstance(user, str) or not user:
            return None
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        message = body.get("message") or {}
        container = body.get("container") or {}
        channel = (
            (body.get("channel") or {}).get("id")
            or container.get("channel_id")
            or _metadata_channel(body)
        )
        thread = message.get("thread_ts") or (
            message.get("ts") if kind == "message_action" else None
        )
        return Actor(user, _str(channel), team=_str(team), thread_ts=_str(thread))
    return None


def pressed_action(body: dict[str, Any]) -> dict[str, Any]:
    """Pure: the button or menu item a `block_actions` payload is about ({} if none)."""
    actions = body.get("actions") or [{}]
    first = actions[0]
    return first if isinstance(first, dict) else {}


def pressed_value(body: dict[str, Any]) -> str:
    """Pure: the pressed button's value ("" if none)."""
    return str(pressed_action(body).get("value") or "")


def surface_of(body: dict[str, Any]) -> str:
    """Pure: the kind of surface a payload came from, for logs, metrics and replies."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        event_type = (body.get("event") or {}).get("type")
        return {"app_mention": "mention", "app_home_opened": "home"}.get(str(event_type), "event")
    return {
        "block_actions": "action",
        "message_action": "shortcut",
        "shortcut": "shortcut",
        "view_submission": "view",
        "view_closed": "view",
    }.get(str(kind), "other")


def _metadata_channel(body: dict[str, Any]) -> str | None:
    """The channel the message shortcut's product picker was opened for."""
    choice = read_metadata(ProductChoice, (body.get("view") or {}).get("private_metadata"))
    return choice.channel if choice is not None else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class RequestContextMiddleware(AsyncMiddleware):
    """Fills Bolt's `context` for every listener; the first of the bot's middlewares.

    A class, not a function: Bolt injects no keyword arguments into these, which keeps the
    per-request cost down.
    """

    def __init__(self, services: Services) -> None:
        self._services = services

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        body = req.body
        actor = actor_of(body)
        reference = new_reference()
        surface = surface_of(body)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            reference=reference,
            surface=surface,
            slack_user=actor.slack_user if actor else None,
            channel=actor.channel if actor else None,
        )
        response_url = body.get("response_url") or _first_response_url(body)
        context = req.context
        context["actor"] = actor
        context["reference"] = reference
        context["surface"] = surface
        context["services"] = self._services
        context["replier"] = Replier(
            client=context.client,
            actor=actor,
            response_url=response_url if isinstance(response_url, str) else None,
            session=self._services.http_session,
        )
        return await next()


def _first_response_url(body: dict[str, Any]) -> str | None:
    """A view submission's response_url, when its modal asked Slack for one."""
    urls = body.get("response_urls") or []
    first = urls[0] if urls and isinstance(urls[0], dict) else {}
    url = first.get("response_url")
    return url if isinstance(url, str) else None
