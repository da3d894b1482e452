"""Pure: the answer to a lookup made from the App Home or the lookup modal, for a DM."""

from __future__ import annotations

from collections.abc import Sequence

from bot.lookup import LookupOutcome
from bot.slack.blocks import Message, SummaryButtons, context_block
from bot.slack.mrkdwn import escape_within, truncate
from bot.slack.replies import lookup_message

_SEARCH_COST = 120


def dm_lookup_message(
    outcomes: Sequence[LookupOutcome],
    *,
    email: str,
    search: str | None,
    known_products: Sequence[str],
    reference: str,
    buttons: SummaryButtons,
) -> Message:
    """The same reply as the slash command's, with the search (if any) named in its header.

    The one place the modal's search reaches the rendering: until lookups can filter by a
    search (issue "Find the one user"), it is only named here; pass it to the filter then.
    """
    message = lookup_message(
        outcomes,
        email=email,
        known_products=known_products,
        reference=reference,
        buttons=buttons,
    )
    if not search:
        return message
    named = escape_within(search, _SEARCH_COST)
    header = context_block(f":mag: Search: `{named}`")
    return Message(truncate(f"{message.text} (search: {named})", 3_000), [header, *message.blocks])
