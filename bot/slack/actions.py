"""Buttons and menus on lookup replies: paging, filter, export, show users, share, escalate,
try again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.export import export_filename, users_csv
from bot.lookup import LookupOutcome
from bot.rendering.blocks import (
    PAGE_SIZE,
    ListState,
    Message,
    SummaryButtons,
    page_count,
    parse_filter_choice,
    parse_state_value,
    render_notice,
    render_summary,
    render_user_page,
    shown_search,
)
from bot.rendering.ids import SHOW_USERS_PATTERN, ActionId
from bot.rendering.mrkdwn import escape
from bot.slack.context import pressed_action
from bot.slack.errors import NotConfigured, NotDelivered, NotInChannel, StaleButton, UpstreamFailed
from bot.slack.replier import Replier
from bot.slack.replies import THREAD_BUTTONS, lookup_message, private_buttons
from bot.slack.services import Services
from bot.slack.upload import upload_to_dm
from bot.summary import Summary
from bot.tasks import TaskTracker
from bot.userlist import Selection, UserFilter, everyone

# An escalation thread carries at most this many pages of users; the rest is a note.
MAX_ESCALATION_PAGES = 5
# From the press to the file in the requester's DM (three Slack calls and the upload).
EXPORT_DEADLINE_S = 60.0
# Building the CSV of this many users or more runs in a worker thread.
_LARGE_EXPORT = 2_000


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.action(ActionId.RETRY)(tasks.listener(retry))
    app.action(ActionId.RETRY_THREAD)(tasks.listener(retry_in_thread))
    app.action(ActionId.PAGE_PREV)(tasks.listener(page))
    app.action(ActionId.PAGE_NEXT)(tasks.listener(page))
    app.action(ActionId.FILTER)(tasks.listener(page))  # a filter re-renders page 0 in place
    app.action(SHOW_USERS_PATTERN)(tasks.listener(show_users))
    app.action(ActionId.SHARE)(tasks.listener(share))
    app.action(ActionId.ESCALATE)(tasks.listener(escalate))
    app.action(ActionId.EXPORT)(tasks.listener(export))


# --- what a button asks for ------------------------------------------------------------------


def list_state_of(body: dict[str, Any]) -> ListState:
    """What the pressed button or chosen menu item asks for; StaleButton if it is not ours."""
    action = pressed_action(body)
    try:
        if action.get("action_id") == ActionId.FILTER:
            chosen = (action.get("selected_option") or {}).get("value", "")
            return parse_filter_choice(str(action.get("block_id", "")), str(chosen))
        return parse_state_value(str(action.get("value", "")))
    except ValueError:
        raise StaleButton() from None


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button's lookup, done again (usually a cache hit)."""

    outcome: LookupOutcome
    state: ListState


async def _lookup(
    body: dict[str, Any], actor: Actor, reference: str, services: Services, surface: str
) -> Pressed:
    state = list_state_of(body)
    outcomes = await services.lookups.lookup(
        (state.product,),
        state.email,
        surface=surface,
        reference=reference,
        actor=actor,
        query=state.query,
    )
    return Pressed(outcomes[0], state)


@dataclass(frozen=True, slots=True)
class Found:
    outcome: LookupOutcome
    summary: Summary
    selection: Selection


async def _found(
    body: dict[str, Any], actor: Actor, reference: str, services: Services, surface: str
) -> Found:
    """The button's customer summary and selection; UpstreamFailed when LicenseSpring failed."""
    pressed = await _lookup(body, actor, reference, services, surface)
    outcome = pressed.outcome
    if outcome.summary is None:
        failed = lookup_message(
            [outcome],
            email=outcome.email,
            known_products=services.settings.licensespring_products,
            reference=reference,
            buttons=SummaryButtons(share=False),
        )
        raise UpstreamFailed(failed.text, failure=failed)
    return Found(outcome, outcome.summary, outcome.selection or everyone(outcome.summary))


# --- paging, filtering, show users, try again ---------------------------------------------


async def page(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _show(body, actor, reference, replier, services, replace=True)


async def show_users(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _show(body, actor, reference, replier, services, replace=False)


async def _show(
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
    *,
    replace: bool,
) -> None:
    pressed = await _lookup(body, actor, reference, services, "button")
    message = lookup_message(
        [pressed.outcome],
        email=pressed.outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=private_buttons(services.settings, has_store=services.store is not None),
        page=pressed.state.page,
    )
    await replier.private(message, replace=replace)


async def retry(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _retry(body, actor, reference, replier, services, in_thread=False)


async def retry_in_thread(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _retry(body, actor, reference, replier, services, in_thread=True)


async def _retry(
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
    *,
    in_thread: bool,
) -> None:
    """Run a failed lookup again and replace the failure reply with the new answer."""
    asked = list_state_of(body)
    answer = replier.visible if in_thread else replier.private
    where = f"`{escape(asked.email)}` in `{escape(asked.product)}`"
    await answer(render_notice(f":hourglass_flowing_sand: Looking up {where} again…"), replace=True)
    pressed = await _lookup(body, actor, reference, services, "retry")
    message = lookup_message(
        [pressed.outcome],
        email=pressed.outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=THREAD_BUTTONS
        if in_thread
        else private_buttons(services.settings, has_store=services.store is not None),
        page=pressed.state.page,
        include_users=not in_thread,
        retry_action=ActionId.RETRY_THREAD if in_thread else ActionId.RETRY,
    )
    await answer(message, replace=True)


# --- share and escalate ----------------------------------------------------------------------


async def share(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    found = await _found(body, actor, reference, services, "share")
    shared = _visible_summary(found, actor, "Shared by", show_users=True)
    await replier.visible(shared)
    await _audit(services, actor, "share", "posted", found.outcome, reference)


async def _audit(
    services: Services,
    actor: Actor,
    action: str,
    result: str,
    outcome: LookupOutcome,
    reference: str,
    detail: str | None = None,
) -> None:
    await services.auditor.record(
        actor,
        action,
        outcome=result,
        product=outcome.product,
        customer_email=outcome.email,
        reference=reference,
        detail=detail,
    )


def _visible_summary(found: Found, actor: Actor, verb: str, *, show_users: bool) -> Message:
    """A summary for everyone in a channel: no user list, and who put it there."""
    message = render_summary(
        found.summary,
        lookup_email=found.outcome.email,
        include_users=False,
        buttons=SummaryButtons(share=False, show_users=show_users),
        selection=found.selection,
    )
    return Message(message.text, message.blocks + _attribution(actor, verb))


def _attribution(actor: Actor, verb: str) -> list[dict[str, Any]]:
    if not actor.slack_user.isalnum():
        return []
    where = f" from <#{actor.channel}>" if actor.channel and actor.channel.isalnum() else ""
    return render_notice(f"{verb} <@{actor.slack_user}>{where}").blocks


async def escalate(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    channel = services.settings.escalation_channel_id
    if not channel:
        raise NotConfigured(":x: No escalation channel is configured (ESCALATION_CHANNEL_ID).")
    found = await _found(body, actor, reference, services, "escalate")
    head = _visible_summary(found, actor, "Escalated by", show_users=False)
    summary, selection = found.summary, found.selection
    pages = page_count(summary, selection)
    try:
        ts = await replier.in_thread(head, channel=channel, top_level=True)
        for number in range(min(pages, MAX_ESCALATION_PAGES)):
            if selection.users:
                user_page = render_user_page(
                    summary, lookup_email=found.outcome.email, page=number, selection=selection
                )
                await replier.in_thread(user_page, channel=channel, thread_ts=ts)
        if pages > MAX_ESCALATION_PAGES:
            rest = selection.count - MAX_ESCALATION_PAGES * PAGE_SIZE
            note = render_notice(
                f"…and {rest:,} more users. Page through them with `/license-users`."
            )
            await replier.in_thread(note, channel=channel, thread_ts=ts)
    except NotInChannel as refused:
        await _audit(services, actor, "escalate", refused.code, found.outcome, reference)
        raise
    link = await _permalink(replier.client, channel, ts)
    where = f"<{link}|the escalation>" if link else "the escalation channel"
    await replier.private(
        render_notice(f":rotating_light: Escalated to <#{channel}>: see {where}.")
    )
    await _audit(services, actor, "escalate", "posted", found.outcome, reference)


async def _permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    link = response.get("permalink")
    return str(link) if link else None


# --- export ---------------------------------------------------------------------------------


async def export(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    """The lookup's users (the selected ones) as a CSV file in the presser's DM with the bot."""
    await ack()
    found = await _found(body, actor, reference, services, "export")
    summary, selection = found.summary, found.selection
    if not selection.users:
        await replier.private(render_notice(":mag: Nothing to export: no user is listed."))
        return
    rows = selection.count
    filename = export_filename(
        summary.product, found.outcome.email, selection.query, datetime.now(UTC).date()
    )
    if rows < _LARGE_EXPORT:
        content = users_csv(selection.users)
    else:
        content = await asyncio.to_thread(users_csv, selection.users)
    detail = f"{rows} rows"
    try:
        await upload_to_dm(
            replier.client,
            actor.slack_user,
            filename=filename,
            content=content,
            comment=_export_comment(summary, found.outcome.email, selection),
            deadline_s=EXPORT_DEADLINE_S,
        )
    except NotDelivered as failed:
        await _audit(services, actor, "export", failed.code, found.outcome, reference, detail)
        raise
    await replier.private(
        render_notice(
            f":page_facing_up: Sent `{escape(filename)}` ({rows:,} "
            f"{'user' if rows == 1 else 'users'}) to your direct messages with me."
        )
    )
    await _audit(services, actor, "export", "uploaded", found.outcome, reference, detail)


def _export_comment(summary: Summary, email: str, selection: Selection) -> str:
    what = f"License users of `{escape(email)}` in `{escape(summary.product)}`"
    if selection.query.search:
        what += f" matching `{shown_search(selection.query.search)}`"
    if selection.query.filter is not UserFilter.ALL:
        what += f", {selection.query.filter.label.lower()}"
    return f"{what}: {selection.count:,} of {summary.total:,}."
