"""Buttons and menus on lookup replies: paging, filter, export, show users, share, escalate."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.export import export_filename, users_csv
from bot.lookup import LookupOutcome, new_reference
from bot.slack.blocks import (
    ACTION_EXPORT,
    ACTION_FILTER,
    ACTION_RETRY,
    ACTION_RETRY_THREAD,
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
from bot.slack.delivery import answer
from bot.slack.mrkdwn import escape
from bot.slack.replies import lookup_message
from bot.slack.threads import THREAD_BUTTONS, CannotPost, post_in_thread
from bot.slack.upload import UploadFailed, upload_to_dm
from bot.summary import Summary
from bot.userlist import Selection, UserFilter, everyone

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.actions")

PAGE_ACTIONS = re.compile(r"^page_(prev|next)$")
SHOW_USERS_ACTIONS = re.compile(r"^show_users(_\d+)?$")
STALE_BUTTON_TEXT = ":warning: That button is no longer valid. Run the command again."
# An escalation thread carries at most this many pages of users (20 each); the rest is a note.
MAX_ESCALATION_PAGES = 5
# From the press to the file in the requester's DM (three Slack calls and the upload).
EXPORT_DEADLINE_S = 60.0
# Building the CSV of this many users or more runs in a worker thread.
_LARGE_EXPORT = 2_000


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0]
    return first if isinstance(first, dict) else {}


def _actor(body: dict[str, Any]) -> Actor:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return Actor(str((body.get("user") or {}).get("id", "")), channel)


def register(app: AsyncApp, services: Services) -> None:
    async def page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await show_page(body, respond, services, replace=True)

    async def show_users(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await show_page(body, respond, services, replace=False)

    async def share(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await share_in_channel(body, respond, services)

    async def escalate(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        await escalate_summary(body, respond, client, services)

    async def retry(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await retry_lookup(body, respond, services, in_thread=False)

    async def retry_in_thread(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await retry_lookup(body, respond, services, in_thread=True)

    async def export(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        await export_users(body, respond, client, services)

    tracked = services.tasks.listener
    app.action(ACTION_RETRY)(tracked(retry))
    app.action(ACTION_RETRY_THREAD)(tracked(retry_in_thread))
    app.action(PAGE_ACTIONS)(tracked(page))
    app.action(ACTION_FILTER)(tracked(page))  # a filter re-renders page 0 in place
    app.action(SHOW_USERS_ACTIONS)(tracked(show_users))
    app.action("share_summary")(tracked(share))
    app.action("escalate")(tracked(escalate))
    app.action(ACTION_EXPORT)(tracked(export))


def list_state_of(body: dict[str, Any]) -> ListState:
    """What the pressed button or chosen menu item asks for; ValueError if it is not ours."""
    action = _action(body)
    if action.get("action_id") == ACTION_FILTER:
        chosen = (action.get("selected_option") or {}).get("value", "")
        return parse_filter_choice(str(action.get("block_id", "")), str(chosen))
    return parse_state_value(str(action.get("value", "")))


async def _lookup_from_button(
    body: dict[str, Any], respond: AsyncRespond, services: Services, surface: str
) -> tuple[LookupOutcome, ListState, str] | None:
    """The button's lookup (usually a cache hit), or None after telling the user why not."""
    try:
        state = list_state_of(body)
    except ValueError:
        await respond(text=STALE_BUTTON_TEXT, response_type="ephemeral", replace_original=False)
        return None
    reference = new_reference()
    actor = _actor(body)
    structlog.contextvars.bind_contextvars(
        reference=reference, slack_user=actor.slack_user, channel=actor.channel
    )
    outcomes = await services.lookups.lookup(
        (state.product,),
        state.email,
        surface=surface,
        reference=reference,
        actor=actor,
        query=state.query,
    )
    return outcomes[0], state, reference


async def _summary_from_button(
    body: dict[str, Any], respond: AsyncRespond, services: Services, surface: str
) -> tuple[LookupOutcome, Summary, Selection, str] | None:
    """The button's customer summary and selection, or None after telling the user why not."""
    found = await _lookup_from_button(body, respond, services, surface)
    if found is None:
        return None
    outcome, _, reference = found
    if outcome.summary is None:
        await _reply_failure(outcome, respond, services, reference)
        return None
    selection = outcome.selection or everyone(outcome.summary)
    return outcome, outcome.summary, selection, reference


async def _reply_failure(
    outcome: LookupOutcome, respond: AsyncRespond, services: Services, reference: str
) -> None:
    failed = lookup_message(
        [outcome],
        email=outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=SummaryButtons(share=False),
    )
    await respond(
        text=failed.text, blocks=failed.blocks, response_type="ephemeral", replace_original=False
    )


async def show_page(
    body: dict[str, Any], respond: AsyncRespond, services: Services, *, replace: bool
) -> None:
    found = await _lookup_from_button(body, respond, services, "button")
    if found is None:
        return
    outcome, state, reference = found
    message = lookup_message(
        [outcome],
        email=outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=_private_buttons(services),
        page=state.page,
    )
    await answer(
        respond,
        text=message.text,
        blocks=message.blocks,
        replace_original=replace,
        session=services.http_session,
    )


async def retry_lookup(
    body: dict[str, Any], respond: AsyncRespond, services: Services, *, in_thread: bool
) -> None:
    """Run a failed lookup again and replace the failure reply with the new answer."""
    try:
        asked = list_state_of(body)
    except ValueError:
        await respond(text=STALE_BUTTON_TEXT, response_type="ephemeral", replace_original=False)
        return
    visibility = "in_channel" if in_thread else "ephemeral"
    where = f"`{escape(asked.email)}` in `{escape(asked.product)}`"
    await answer(
        respond,
        text=f":hourglass_flowing_sand: Looking up {where} again…",
        response_type=visibility,
        replace_original=True,
        session=services.http_session,
    )
    found = await _lookup_from_button(body, respond, services, "retry")
    if found is None:
        return
    outcome, state, reference = found
    message = lookup_message(
        [outcome],
        email=outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=THREAD_BUTTONS if in_thread else _private_buttons(services),
        page=state.page,
        include_users=not in_thread,
        retry_action=ACTION_RETRY_THREAD if in_thread else ACTION_RETRY,
    )
    await answer(
        respond,
        text=message.text,
        blocks=message.blocks,
        response_type=visibility,
        replace_original=True,
        session=services.http_session,
    )


def _private_buttons(services: Services) -> SummaryButtons:
    return SummaryButtons(
        share=True,
        escalate=bool(services.settings.escalation_channel_id),
        watch=services.store is not None,
        list_tools=True,
    )


async def share_in_channel(body: dict[str, Any], respond: AsyncRespond, services: Services) -> None:
    found = await _summary_from_button(body, respond, services, "share")
    if found is None:
        return
    outcome, summary, selection, reference = found
    actor = _actor(body)
    shared = _visible_summary(
        summary, outcome.email, actor, "Shared by", show_users=True, selection=selection
    )
    await answer(
        respond,
        text=shared.text,
        blocks=shared.blocks,
        response_type="in_channel",
        session=services.http_session,
    )
    await _audit(services, actor, "share", "posted", outcome, reference)


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


def _visible_summary(
    summary: Summary,
    email: str,
    actor: Actor,
    verb: str,
    *,
    show_users: bool,
    selection: Selection | None = None,
) -> Message:
    """A summary for everyone in a channel: no user list, and who put it there."""
    message = render_summary(
        summary,
        lookup_email=email,
        include_users=False,
        buttons=SummaryButtons(share=False, show_users=show_users),
        selection=selection,
    )
    return Message(message.text, message.blocks + _attribution(actor, verb))


def _attribution(actor: Actor, verb: str) -> list[dict[str, Any]]:
    if not actor.slack_user.isalnum():
        return []
    where = f" from <#{actor.channel}>" if actor.channel and actor.channel.isalnum() else ""
    return render_notice(f"{verb} <@{actor.slack_user}>{where}").blocks


async def escalate_summary(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, services: Services
) -> None:
    channel = services.settings.escalation_channel_id
    if not channel:
        await respond(
            text=":x: No escalation channel is configured (ESCALATION_CHANNEL_ID).",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    found = await _summary_from_button(body, respond, services, "escalate")
    if found is None:
        return
    outcome, summary, selection, reference = found
    actor = _actor(body)
    head = _visible_summary(
        summary, outcome.email, actor, "Escalated by", show_users=False, selection=selection
    )
    pages = page_count(summary, selection)
    try:
        ts = await post_in_thread(client, channel, None, head)
        for page in range(min(pages, MAX_ESCALATION_PAGES)):
            if selection.users:
                await post_in_thread(
                    client,
                    channel,
                    ts,
                    render_user_page(
                        summary, lookup_email=outcome.email, page=page, selection=selection
                    ),
                )
        if pages > MAX_ESCALATION_PAGES:
            rest = selection.count - MAX_ESCALATION_PAGES * 20
            note = render_notice(
                f"…and {rest:,} more users. Page through them with `/license-users`."
            )
            await post_in_thread(client, channel, ts, note)
    except CannotPost as refused:
        await respond(text=refused.hint, response_type="ephemeral", replace_original=False)
        await _audit(services, actor, "escalate", refused.code, outcome, reference)
        return
    link = await _permalink(client, channel, ts)
    where = f"<{link}|the escalation>" if link else "the escalation channel"
    await respond(
        text=f":rotating_light: Escalated to <#{channel}>: see {where}.",
        response_type="ephemeral",
        replace_original=False,
    )
    await _audit(services, actor, "escalate", "posted", outcome, reference)


async def _permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    link = response.get("permalink")
    return str(link) if link else None


async def export_users(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, services: Services
) -> None:
    """The lookup's users (the selected ones) as a CSV file in the presser's DM with the bot."""
    found = await _summary_from_button(body, respond, services, "export")
    if found is None:
        return
    outcome, summary, selection, reference = found
    actor = _actor(body)
    if not selection.users:
        await respond(
            text=":mag: Nothing to export: no user is listed.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    rows = selection.count
    filename = export_filename(
        summary.product, outcome.email, selection.query, datetime.now(UTC).date()
    )
    if rows < _LARGE_EXPORT:
        content = users_csv(selection.users)
    else:
        content = await asyncio.to_thread(users_csv, selection.users)
    detail = f"{rows} rows"
    try:
        await upload_to_dm(
            client,
            actor.slack_user,
            filename=filename,
            content=content,
            comment=_export_comment(summary, outcome.email, selection),
            deadline_s=EXPORT_DEADLINE_S,
        )
    except UploadFailed as failed:
        await respond(text=failed.hint, response_type="ephemeral", replace_original=False)
        await _audit(services, actor, "export", failed.code, outcome, reference, detail)
        return
    await respond(
        text=f":page_facing_up: Sent `{escape(filename)}` ({rows:,} "
        f"{'user' if rows == 1 else 'users'}) to your direct messages with me.",
        response_type="ephemeral",
        replace_original=False,
    )
    await _audit(services, actor, "export", "uploaded", outcome, reference, detail)


def _export_comment(summary: Summary, email: str, selection: Selection) -> str:
    what = f"License users of `{escape(email)}` in `{escape(summary.product)}`"
    if selection.query.search:
        what += f" matching `{shown_search(selection.query.search)}`"
    if selection.query.filter is not UserFilter.ALL:
        what += f", {selection.query.filter.label.lower()}"
    return f"{what}: {selection.count:,} of {summary.total:,}."
