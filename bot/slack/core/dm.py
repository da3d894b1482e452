"""A lookup's answer in the person's DM: the App Home's and the lookup modal's."""

from __future__ import annotations

from bot.lookup import LookupOutcome
from bot.rendering.mrkdwn import escape_within
from bot.rendering.replies import (
    lookup_error_text,
    lookup_message,
    needs_reference,
    private_buttons,
)
from bot.slack.core.errors import NotDelivered
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services


async def answer_in_dm(
    replier: Replier, services: Services, outcome: LookupOutcome, reference: str
) -> tuple[bool, str]:
    """Send the answer to the person's DM; (delivered, what to tell them where they are).

    A failed lookup is not sent: the person is told where they are (the modal, the Home),
    with the reference when it is worth reporting.
    """
    if outcome.error is not None:
        failure = lookup_error_text(
            outcome.error,
            product=outcome.product,
            email=outcome.email,
            known_products=services.settings.licensespring_products,
        )
        shown = f" Reference: `{reference}`" if needs_reference(outcome.error) else ""
        return False, failure + shown
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
