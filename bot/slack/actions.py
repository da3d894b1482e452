"""Buttons on lookup replies: paging, share in channel, show one product's users."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.lookup import new_reference
from bot.slack.blocks import SummaryButtons, parse_button_value, render_notice, render_summary
from bot.slack.replies import message_for_outcomes

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.actions")

PAGE_ACTIONS = re.compile(r"^page_(prev|next)$")
SHOW_USERS_ACTIONS = re.compile(r"^show_users_\d+$")
STALE_BUTTON_TEXT = ":warning: That button is no longer valid. Run the command again."


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0]
    return first if isinstance(first, dict) else {}


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

    app.action(PAGE_ACTIONS)(page)
    app.action(SHOW_USERS_ACTIONS)(show_users)
    app.action("share_summary")(share)


async def show_page(
    body: dict[str, Any], respond: AsyncRespond, services: Services, *, replace: bool
) -> None:
    try:
        product, email, page = parse_button_value(str(_action(body).get("value", "")))
    except ValueError:
        await respond(text=STALE_BUTTON_TEXT, response_type="ephemeral", replace_original=False)
        return
    reference = new_reference()
    structlog.contextvars.bind_contextvars(
        reference=reference, slack_user=(body.get("user") or {}).get("id")
    )
    outcomes = await services.lookups.lookup(
        (product,), email, surface="button", reference=reference
    )
    message = message_for_outcomes(
        outcomes,
        email=email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=SummaryButtons(share=True),
        page=page,
    )
    await respond(
        text=message.text,
        blocks=message.blocks,
        response_type="ephemeral",
        replace_original=replace,
    )


async def share_in_channel(body: dict[str, Any], respond: AsyncRespond, services: Services) -> None:
    try:
        product, email, _ = parse_button_value(str(_action(body).get("value", "")))
    except ValueError:
        await respond(text=STALE_BUTTON_TEXT, response_type="ephemeral", replace_original=False)
        return
    reference = new_reference()
    user_id = (body.get("user") or {}).get("id", "")
    outcome = await services.lookups.lookup_one(product, email)
    if outcome.summary is None:
        failed = message_for_outcomes(
            [outcome],
            email=email,
            known_products=services.settings.licensespring_products,
            reference=reference,
            buttons=SummaryButtons(share=False),
        )
        await respond(text=failed.text, blocks=failed.blocks, replace_original=False)
        return
    shared = render_summary(
        outcome.summary,
        lookup_email=email,
        include_users=False,
        buttons=SummaryButtons(share=False),
    )
    note = render_notice(f"Shared by <@{user_id}>") if user_id.isalnum() else None
    await respond(
        text=shared.text,
        blocks=shared.blocks + (note.blocks if note else []),
        response_type="in_channel",
        replace_original=False,
    )
    log.info("shared", reference=reference, product=product, customer=email, slack_user=user_id)
