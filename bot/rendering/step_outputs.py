"""Pure: a lookup's summaries -> the outputs of the Workflow Builder step `lookup_license_users`.

The outputs are counts and one sentence, never the list of users: a customer with 50,000
users gives the same dozen values as one with three. Text outputs are escaped for mrkdwn, so
a later step may drop them into a message without pinging `<!channel>` or smuggling a link.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.rendering.blocks import render_multi_product, render_summary
from bot.rendering.mrkdwn import escape_within
from bot.summary import Summary
from bot.userlist import EVERYONE, Selection, UserQuery

StepOutputs = dict[str, str | int]

COUNT_OUTPUTS = (
    "users",
    "active_users",
    "activations_used",
    "activations_max",
    "at_activation_limit",
    "on_initial_password",
)
TEXT_OUTPUTS = ("customer_name", "customer_email", "summary")
SEAT_OUTPUTS = ("seats_used", "seats_max")
"""Declared in the manifest as optional: filled only once a Summary carries seats."""

_NAME_COST = 150
_EMAIL_COST = 254


def step_outputs(
    results: Sequence[tuple[str, Summary | str]],
    *,
    lookup_email: str,
    selection: Selection | None = None,
    query: UserQuery = EVERYONE,
) -> StepOutputs:
    """The step's outputs for one e-mail looked up in one or several products.

    `results` has the shape `render_multi_product` takes: per product, its Summary or the
    sentence a person would read for its failure; at least one must be a Summary. The counts
    add up over the products that answered; `summary` is the text of the reply a person gets
    for the same lookup (its notification fallback); `selection` is the one product's search.
    """
    summaries = [outcome for _, outcome in results if isinstance(outcome, Summary)]
    if not summaries:
        raise ValueError("step_outputs needs at least one Summary")
    first = summaries[0]
    if len(results) == 1:
        text = render_summary(
            first, lookup_email=lookup_email, include_users=False, selection=selection
        ).text
    else:
        text = render_multi_product(lookup_email, results, query).text
    outputs: StepOutputs = {
        "customer_name": escape_within(
            first.customer.name or first.customer.company_name, _NAME_COST
        ),
        "customer_email": escape_within(first.customer.email or lookup_email, _EMAIL_COST),
        "users": sum(s.total for s in summaries),
        "active_users": sum(s.active for s in summaries),
        "activations_used": sum(s.activations_used for s in summaries),
        "activations_max": sum(s.activations_max for s in summaries),
        "at_activation_limit": sum(len(s.at_limit) for s in summaries),
        "on_initial_password": sum(len(s.on_initial_password) for s in summaries),
        "summary": text,
    }
    outputs.update(seat_outputs(summaries))
    return outputs


def seat_outputs(summaries: Sequence[Summary]) -> dict[str, int]:
    """Hook for `seats_used` / `seats_max` (with a Management API key).

    A Summary carries no seats yet, so there is nothing to add; when it does, return the two
    figures here, added up over `summaries` like the counts above. The manifest already
    declares both outputs as optional, so Slack accepts a completion with or without them.
    """
    del summaries
    return {}
