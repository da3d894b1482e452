"""The lookup and watch modals: the global shortcut and "Watch…" button that open them, and
their submissions.

A submission is answered in its ack (Slack waits 3 s): field errors at once; otherwise the
modal turns into a "looking up…" state right away and is updated again when the work is done.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.slack.blocks import ACTION_WATCH, parse_button_value
from bot.slack.dm_lookup import answer_in_dm, look_up
from bot.slack.home_publish import publish_home
from bot.slack.modal_calls import open_modal, update_modal
from bot.slack.modal_views import (
    CHANNEL_BLOCK,
    GLOBAL_SHORTCUT_CALLBACK_ID,
    LOOKUP_MODAL_CALLBACK_ID,
    WATCH_MODAL_CALLBACK_ID,
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
from bot.slack.mrkdwn import escape_within
from bot.slack.replies import lookup_error_text
from bot.slack.watchops import NO_STORE_TEXT, channel_problem, create_watch
from bot.userlist import UserQuery

if TYPE_CHECKING:
    from bot.slack.app import Services

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


def register(app: AsyncApp, services: Services) -> None:
    async def on_global_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        settings = services.settings
        view = lookup_modal(
            settings.licensespring_products,
            settings.default_product,
            FormOrigin(_user(body), "shortcut"),
        )
        await open_modal(client, body, view)

    async def on_watch_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await open_modal(client, body, _watch_modal_for_summary(body, services))

    async def on_lookup_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await handle_lookup_submission(ack, body, view, client, services)

    async def on_watch_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await handle_watch_submission(ack, body, view, client, services)

    tracked = services.tasks.listener
    app.shortcut(GLOBAL_SHORTCUT_CALLBACK_ID)(tracked(on_global_shortcut))
    app.action(ACTION_WATCH)(tracked(on_watch_button))
    app.view(LOOKUP_MODAL_CALLBACK_ID)(tracked(on_lookup_submitted))
    app.view(WATCH_MODAL_CALLBACK_ID)(tracked(on_watch_submitted))


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def _watch_modal_for_summary(body: dict[str, Any], services: Services) -> dict[str, Any]:
    settings = services.settings
    actions = body.get("actions") or [{}]
    value = actions[0].get("value") if isinstance(actions[0], dict) else None
    try:
        product, email, _ = parse_button_value(str(value or ""))
    except ValueError:
        product, email = "", ""  # a stale button: an empty form still works
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return watch_modal(
        settings.licensespring_products,
        settings.default_product,
        FormOrigin(_user(body), "summary"),
        product=product or None,
        email=email or None,
        channel=str(channel) if channel else None,
    )


async def _own_form(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services
) -> FormOrigin | None:
    """The form's origin when the person submitting it opened it; else refuse in the modal."""
    origin = form_origin(view)
    if origin is not None and origin.user == _user(body):
        return origin
    await ack(response_action="update", view=notice_modal("License users", OTHER_USERS_FORM))
    await services.auditor.record(
        Actor(_user(body), None), "refused", outcome="not_their_form", detail="view"
    )
    return None


def _who(product: str, email: str) -> str:
    return f"`{escape_within(email, 80)}` in `{escape_within(product, 40)}`"


async def handle_lookup_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    origin = await _own_form(ack, body, view, services)
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
    actor = Actor(origin.user, None)
    outcome, reference = await look_up(
        services, actor, form.product, form.email, surface="modal", query=UserQuery(form.search)
    )
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
        await update_modal(client, view_id, back)
        return
    _, notice = await answer_in_dm(client, services, actor, outcome, reference)
    await update_modal(client, view_id, notice_modal(LOOKUP_TITLE, notice))
    if origin.origin == "home":
        await publish_home(client, services, actor.slack_user, notice=notice)


async def handle_watch_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
) -> None:
    origin = await _own_form(ack, body, view, services)
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
            problem = await channel_problem(client, form.channel)
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
    actor = Actor(origin.user, None)
    result = await create_watch(
        services,
        client,
        actor,
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
    await update_modal(client, str(view.get("id", "")), outcome_view)
    if origin.origin == "home":
        await publish_home(client, services, actor.slack_user, notice=result.text)
