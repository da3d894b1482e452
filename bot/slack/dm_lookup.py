"""A lookup whose answer goes to the person's DM: the App Home's and the lookup modal's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.lookup import LookupOutcome, new_reference
from bot.slack.blocks import SummaryButtons
from bot.slack.dm import DirectMessageFailed, send_dm
from bot.slack.mrkdwn import escape_within
from bot.slack.replies import lookup_message
from bot.userlist import EVERYONE, UserQuery

if TYPE_CHECKING:
    from bot.slack.app import Services


def answer_buttons(services: Services) -> SummaryButtons:
    """The buttons of a private answer: as under the slash command's."""
    return SummaryButtons(
        share=True,
        escalate=bool(services.settings.escalation_channel_id),
        watch=services.store is not None,
        list_tools=True,
    )


async def look_up(
    services: Services,
    actor: Actor,
    product: str,
    email: str,
    *,
    surface: str,
    query: UserQuery = EVERYONE,
) -> tuple[LookupOutcome, str]:
    """One product, one e-mail (and a search), audited like every lookup; (outcome, reference)."""
    reference = new_reference()
    structlog.contextvars.bind_contextvars(
        reference=reference, slack_user=actor.slack_user, channel=actor.channel
    )
    outcomes = await services.lookups.lookup(
        (product,), email, surface=surface, reference=reference, actor=actor, query=query
    )
    return outcomes[0], reference


async def answer_in_dm(
    client: AsyncWebClient,
    services: Services,
    actor: Actor,
    outcome: LookupOutcome,
    reference: str,
) -> tuple[bool, str]:
    """Send the answer to the person's DM; (delivered, what to tell them where they are)."""
    message = lookup_message(
        [outcome],
        email=outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=answer_buttons(services),
    )
    who = f"`{escape_within(outcome.email, 80)}` in `{escape_within(outcome.product, 40)}`"
    try:
        await send_dm(client, actor.slack_user, message)
    except DirectMessageFailed as failed:
        return False, (
            f":warning: I could not send you the answer for {who}: Slack said "
            f"`{escape_within(failed.code, 60)}`. Try again, or use `/license-users`. "
            f"Reference: `{reference}`"
        )
    return True, f":white_check_mark: Sent the license users of {who} to your direct messages."
