"""One failure path for every listener, before and after its ack.

A UserFacingError is the listener saying what to tell the person; anything else is a bug: the
generic reply, and the traceback in the log under the same reference.

- Before the ack (Bolt's error handler, `on_error`): the answer is the ack itself (a modal stays
  open and says so), or 200 with a private reply.
- After the ack there is no HTTP answer left to give. Bolt's own handling of a failure after
  the ack either raises inside its task (when the handler returns a response: "Task exception
  was never retrieved") or, when the failure comes quickly, un-sets the ack it already made and
  answers Slack 404 three seconds later. So `contain` catches what a listener raises after its
  ack before Bolt sees it, and answers through the replier: a modal still open is updated with
  the failure and the reference; anything else gets a private reply. Nothing reaches Bolt.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec

import structlog
from slack_bolt import BoltResponse

from bot.lookup import new_reference
from bot.rendering.blocks import render_notice
from bot.rendering.modals import notice_modal
from bot.slack.core.errors import INTERNAL_ERROR_TEXT, UserFacingError
from bot.slack.core.replier import Replier

log = structlog.get_logger("slack")

P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class _Request:
    body: dict[str, Any]
    context: dict[str, Any]


_CURRENT: ContextVar[_Request | None] = ContextVar("slack_request", default=None)


def remember(body: dict[str, Any], context: dict[str, Any]) -> None:
    """Called by the guard in the request's task; the listener's task inherits it."""
    _CURRENT.set(_Request(body, context))


def acknowledged(context: dict[str, Any]) -> bool:
    ack = context.get("ack")
    return ack is not None and getattr(ack, "response", None) is not None


def contain(
    listener: Callable[P, Awaitable[None]],
) -> Callable[P, Coroutine[Any, Any, None]]:
    """Wrap a listener: what it raises after its ack is answered here, never by Bolt."""

    @functools.wraps(listener)
    async def contained(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await listener(*args, **kwargs)
        except Exception as error:
            request = _CURRENT.get()
            if request is None or not acknowledged(request.context):
                raise  # before the ack: Bolt's error handler answers in the ack
            await answer_failure(error, request.body, request.context, acknowledged=True)

    return contained


async def answer_failure(
    error: Exception, body: dict[str, Any], context: dict[str, Any], *, acknowledged: bool
) -> BoltResponse | None:
    """Log the failure and answer it once; the ack's answer, or None once acknowledged."""
    reference = str(context.get("reference") or new_reference())
    if isinstance(error, UserFacingError):
        log.info("request_refused", kind=type(error).__name__, reason=error.text[:200])
        message = error.message(reference)
        shown = message.text
    else:
        log.error(
            "listener_failed",
            error_type=type(error).__name__,
            request_type=body.get("type") or ("command" if "command" in body else None),
            acknowledged=acknowledged,
            exc_info=error,
        )
        message = render_notice(INTERNAL_ERROR_TEXT, reference=reference)
        shown = INTERNAL_ERROR_TEXT
    replier = context.get("replier")
    view = body.get("view") if isinstance(body.get("view"), dict) else None
    if body.get("type") == "view_submission" and view is not None:
        failed = notice_modal("License users", f"{shown} Reference: `{reference}`")
        if not acknowledged:  # the modal says so and stays open
            return _json({"response_action": "update", "view": failed})
        if isinstance(replier, Replier) and view.get("id"):
            await _safely(replier.update_modal(str(view["id"]), failed))
        return None
    if isinstance(replier, Replier):
        await _safely(replier.private(message))
    return None if acknowledged else BoltResponse(status=200, body="")


async def _safely(reply: Awaitable[object]) -> None:
    try:
        await reply
    except Exception as reply_error:  # noqa: BLE001 - already failing; never raise here
        log.warning("error_reply_failed", error=str(reply_error))


def _json(answer: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
    )
