"""A lookup's answer in the person's DM: the App Home's and the lookup modal's."""

from __future__ import annotations

from bot.lookup import LookupOutcome
from bot.rendering.mrkdwn import escape_within
from bot.slack.errors import NotDelivered
from bot.slack.replier import Replier
from bot.slack.replies import lookup_message, private_buttons
from bot.slack.services import Services


async def answer_in_dm(
    replier: Replier, services: Services, outcome: LookupOutcome, reference: str
) -> tuple[bool, str]:
    """Send the answer to the person's DM; (delivered, what to tell them where they are)."""
    message = lookup_message(
        [outcome],
        email=outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=private_buttons(services.settings, has_store=services.store is not None),
    )
    who = f"`{escape_within(outcome.email, 80)}` in `{escape_within(outcome.product, 40)}`"
    try:
        await replier.direct_message(message)
    except NotDelivered as failed:
        return False, (
            f":warning: I could not send you the answer for {who}: Slack said "
            f"`{escape_within(failed.code, 60)}`. Try again, or use `/license-users`. "
            f"Reference: `{reference}`"
        )
    return True, f":white_check_mark: Sent the license users of {who} to your direct messages."
