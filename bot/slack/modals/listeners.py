"""The lookup and watch modals: the global shortcut and "Watch…" button that open them, and
their submissions.

A submission is answered in its ack (Slack waits 3 s): field errors at once; otherwise the
modal turns into a "looking up…" state right away and is updated again when the work is done.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import structlog
from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.config import Settings
from bot.rendering.blocks import ListState, parse_state_value
from bot.rendering.metadata import FormOrigin
from bot.rendering.modals import (
    CHANNEL_BLOCK,
    LookupForm,
    WatchForm,
    lookup_modal,
    notice_modal,
    watch_modal,
)
from bot.rendering.mrkdwn import escape_within
from bot.rendering.replies import lookup_error_text
from bot.rendering.watches import NO_STORE_TEXT
from bot.slack.core.channels import channel_problem
from bot.slack.core.context import pressed_value
from bot.slack.core.dm import answer_in_dm
from bot.slack.core.home import publish_home
from bot.slack.core.policy import Understood
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services
from bot.slack.modals.forms import (
    Errors,
    form_origin,
    read_lookup_form,
    read_watch_form,
    selected_channel,
)
from bot.userlist import UserQuery

log = structlog.get_logger("slack.modals")

# Of Slack's 3 s for the ack, what the channel check may take; past it the check runs after
# the ack and its answer updates the modal instead of showing under the picker.
CHANNEL_CHECK_BUDGET_S = 1.5
LOOKUP_TITLE = "Look up license users"
WATCH_TITLE = "Watch a customer"
OTHER_USERS_FORM = (
    ":no_entry: This form was opened by someone else. Open your own from the App Home or "
    "the *Look up license users* shortcut."
)


# --- what each request asks for -----------------------------------------------------------


Form = TypeVar("Form", LookupForm, WatchForm)


@dataclass(frozen=True, slots=True)
class Submitted(Generic[Form]):
    """A form's submission: who opened it (None: not a form the bot wrote), and its values."""

    view_id: str
    origin: FormOrigin | None
    form: Form | Errors


def read_opener(body: dict[str, Any], actor: Actor | None, settings: Settings) -> Understood[str]:
    """The global shortcut: a form for the person only; its trigger id."""
    return Understood(str(body.get("trigger_id", "")), actor.slack_user if actor else None)


def read_watch_button(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[ListState | None]:
    """Watch… on an answer: opens the form filled in with the answer's customer (None: stale)."""
    try:
        state: ListState | None = parse_state_value(pressed_value(body))
    except ValueError:
        state = None
    return Understood(state, actor.slack_user if actor else None)


def read_lookup_submission(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[Submitted[LookupForm]]:
    """The answer goes to the person's DM: nothing is posted visibly."""
    view = body.get("view") or {}
    form = read_lookup_form(view, settings.licensespring_products)
    submitted = Submitted(str(view.get("id", "")), form_origin(view), form)
    return Understood(submitted, actor.slack_user if actor else None)


def read_watch_submission(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[Submitted[WatchForm]]:
    """Alerts go to the channel picked: that channel must be allowed."""
    view = body.get("view") or {}
    form = read_watch_form(view, settings.licensespring_products)
    submitted = Submitted(str(view.get("id", "")), form_origin(view), form)
    channel = form.channel if isinstance(form, WatchForm) else selected_channel(view)
    user = actor.slack_user if actor else None
    return Understood(submitted, user, posts_in=channel, channel_field=CHANNEL_BLOCK)


# --- listeners ------------------------------------------------------------------------------


async def on_global_shortcut(
    ack: AsyncAck, asked: str, actor: Actor, replier: Replier, services: Services
) -> None:
    await ack()
    settings = services.settings
    view = lookup_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(user=actor.slack_user, origin="shortcut"),
    )
    await replier.open_modal(asked, view)


async def on_watch_button(
    ack: AsyncAck,
    asked: ListState | None,
    body: dict[str, Any],
    actor: Actor,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    settings = services.settings
    view = watch_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(user=actor.slack_user, origin="summary"),
        product=asked.product if asked else None,  # a stale button: an empty form still works
        email=asked.email if asked else None,
        channel=actor.channel,
    )
    await replier.open_modal(str(body.get("trigger_id", "")), view)


async def _own_form(
    ack: AsyncAck, asked: Submitted[Any], actor: Actor, services: Services
) -> FormOrigin | None:
    """The form's origin when the person submitting it opened it; else refuse in the modal."""
    if asked.origin is not None and asked.origin.user == actor.slack_user:
        return asked.origin
    await ack(response_action="update", view=notice_modal("License users", OTHER_USERS_FORM))
    await services.auditor.record(actor, "refused", outcome="not_their_form", detail="view")
    return None


def _who(product: str, email: str) -> str:
    return f"`{escape_within(email, 80)}` in `{escape_within(product, 40)}`"


async def on_lookup_submitted(
    ack: AsyncAck,
    asked: Submitted[LookupForm],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    origin = await _own_form(ack, asked, actor, services)
    if origin is None:
        return
    settings = services.settings
    form = asked.form
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
        await replier.update_modal(asked.view_id, back)
        return
    _, notice = await answer_in_dm(replier, services, outcome, reference)
    await replier.update_modal(asked.view_id, notice_modal(LOOKUP_TITLE, notice))
    if origin.origin == "home":
        await publish_home(replier, services, actor.slack_user, notice=notice)


async def on_watch_submitted(
    ack: AsyncAck,
    asked: Submitted[WatchForm],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    origin = await _own_form(ack, asked, actor, services)
    if origin is None:
        return
    settings = services.settings
    form = asked.form
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
    result = await services.watches.create(
        actor,
        reference=reference,
        product=form.product,
        email=form.email,
        channel=form.channel,
        threshold_pct=form.threshold_pct,
        check_channel=None if checked else partial(channel_problem, replier.client),
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
    await replier.update_modal(asked.view_id, outcome_view)
    if origin.origin == "home":
        await publish_home(replier, services, actor.slack_user, notice=result.text)
