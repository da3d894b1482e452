"""The lookup and watch modals: the global shortcut and "Watch…" button that open them, and
their submissions.

A submission is answered in its ack (Slack waits 3 s): field errors at once; otherwise the
modal turns into a "looking up…" state right away and is updated again when the work is done.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit import Actor
from bot.rendering.blocks import parse_state_value
from bot.rendering.ids import ActionId, CallbackId
from bot.rendering.mrkdwn import escape_within
from bot.slack.context import pressed_value
from bot.slack.dm_lookup import answer_in_dm
from bot.slack.home_publish import publish_home
from bot.slack.modal_views import (
    CHANNEL_BLOCK,
    FormOrigin,
    LookupForm,
    WatchForm,
    form_origin,
    lookup_modal,
    notice_modal,
    read_lookup_form,
    read_watch_form,
    watch_modal,
)
from bot.slack.replier import Replier
from bot.slack.replies import lookup_error_text
from bot.slack.services import Services
from bot.slack.watchops import NO_STORE_TEXT, channel_problem, create_watch
from bot.tasks import TaskTracker
from bot.userlist import UserQuery

log = structlog.get_logger("slack.forms")

# Of Slack's 3 s for the ack, what the channel check may take; past it the check runs after
# the ack and its answer updates the modal instead of showing under the picker.
CHANNEL_CHECK_BUDGET_S = 1.5
LOOKUP_TITLE = "Look up license users"
WATCH_TITLE = "Watch a customer"
OTHER_USERS_FORM = (
    ":no_entry: This form was opened by someone else. Open your own from the App Home or "
    "the *Look up license users* shortcut."
)


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.shortcut(CallbackId.GLOBAL_SHORTCUT)(tasks.listener(on_global_shortcut))
    app.action(ActionId.WATCH)(tasks.listener(on_watch_button))
    app.view(CallbackId.LOOKUP_MODAL)(tasks.listener(on_lookup_submitted))
    app.view(CallbackId.WATCH_MODAL)(tasks.listener(on_watch_submitted))


async def on_global_shortcut(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    settings = services.settings
    view = lookup_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(actor.slack_user, "shortcut"),
    )
    await replier.open_modal(str(body.get("trigger_id", "")), view)


async def on_watch_button(
    ack: AsyncAck, body: dict[str, Any], actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    view = _watch_modal_for_summary(body, actor, services)
    await replier.open_modal(str(body.get("trigger_id", "")), view)


def _watch_modal_for_summary(
    body: dict[str, Any], actor: Actor, services: Services
) -> dict[str, Any]:
    settings = services.settings
    try:
        asked = parse_state_value(pressed_value(body))
        product, email = asked.product, asked.email
    except ValueError:
        product, email = "", ""  # a stale button: an empty form still works
    return watch_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(actor.slack_user, "summary"),
        product=product or None,
        email=email or None,
        channel=actor.channel,
    )


async def _own_form(
    ack: AsyncAck, view: dict[str, Any], actor: Actor, services: Services
) -> FormOrigin | None:
    """The form's origin when the person submitting it opened it; else refuse in the modal."""
    origin = form_origin(view)
    if origin is not None and origin.user == actor.slack_user:
        return origin
    await ack(response_action="update", view=notice_modal("License users", OTHER_USERS_FORM))
    await services.auditor.record(actor, "refused", outcome="not_their_form", detail="view")
    return None


def _who(product: str, email: str) -> str:
    return f"`{escape_within(email, 80)}` in `{escape_within(product, 40)}`"


async def on_lookup_submitted(
    ack: AsyncAck,
    view: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    origin = await _own_form(ack, view, actor, services)
    if origin is None:
        return
    settings = services.settings
    form = read_lookup_form(view, settings.licensespring_products)
    if not isinstance(form, LookupForm):
        await ack(response_action="errors", errors=form)
        return
    who = _who(form.product, form.email)
    await ack(
        response_action="update",
        view=notice_modal(
            LOOKUP_TITLE,
            f":hourglass_flowing_sand: Looking up {who}… "
            "The answer will arrive in your direct messages.",
        ),
    )
    outcomes = await services.lookups.lookup(
        (form.product,),
        form.email,
        surface="modal",
        reference=reference,
        actor=actor,
        query=UserQuery(form.search),
    )
    outcome = outcomes[0]
    view_id = str(view.get("id", ""))
    if outcome.error is not None and outcome.error.code == "unknown_product":
        problem = lookup_error_text(
            outcome.error,
            product=form.product,
            email=form.email,
            known_products=settings.licensespring_products,
        )
        back = lookup_modal(
            settings.licensespring_products,
            settings.default_product,
            origin,
            initial=form,
            problem=problem,
        )
        await replier.update_modal(view_id, back)
        return
    _, notice = await answer_in_dm(replier, services, outcome, reference)
    await replier.update_modal(view_id, notice_modal(LOOKUP_TITLE, notice))
    if origin.origin == "home":
        await publish_home(replier, services, actor.slack_user, notice=notice)


async def on_watch_submitted(
    ack: AsyncAck,
    view: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    origin = await _own_form(ack, view, actor, services)
    if origin is None:
        return
    settings = services.settings
    form = read_watch_form(view, settings.licensespring_products)
    if not isinstance(form, WatchForm):
        await ack(response_action="errors", errors=form)
        return
    if services.store is None:
        await ack(response_action="update", view=notice_modal(WATCH_TITLE, f":x: {NO_STORE_TEXT}"))
        return
    checked = False
    try:
        async with asyncio.timeout(CHANNEL_CHECK_BUDGET_S):
            problem = await channel_problem(replier.client, form.channel)
        checked = True
    except TimeoutError:
        problem = None
    if problem is not None:
        await ack(response_action="errors", errors={CHANNEL_BLOCK: problem.for_form()})
        return
    await ack(
        response_action="update",
        view=notice_modal(
            WATCH_TITLE,
            f":hourglass_flowing_sand: Setting up the watch of {_who(form.product, form.email)}…",
        ),
    )
    result = await create_watch(
        services,
        replier.client,
        actor,
        reference=reference,
        product=form.product,
        email=form.email,
        channel=form.channel,
        threshold_pct=form.threshold_pct,
        check_channel=not checked,
    )
    if result.watch is None:
        outcome_view = watch_modal(
            settings.licensespring_products,
            settings.default_product,
            origin,
            initial=form,
            problem=result.text,
        )
    else:
        outcome_view = notice_modal(WATCH_TITLE, result.text)
    await replier.update_modal(str(view.get("id", "")), outcome_view)
    if origin.origin == "home":
        await publish_home(replier, services, actor.slack_user, notice=result.text)
