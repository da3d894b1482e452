"""Pure: what to tell a Slack user when a lookup fails."""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import Settings
from bot.licensespring.errors import LicenseApiError, hint_for
from bot.lookup import LookupOutcome
from bot.rendering.blocks import (
    Message,
    SummaryButtons,
    affordable_button_value,
    render_multi_product,
    render_notice,
    render_summary,
)
from bot.rendering.ids import ActionId
from bot.rendering.mrkdwn import escape
from bot.summary import Summary
from bot.userlist import EVERYONE


def _code(text: str) -> str:
    return "`" + escape(text).replace("`", "'") + "`"


def lookup_error_text(
    error: LicenseApiError, *, product: str, email: str, known_products: Sequence[str] = ()
) -> str:
    """One or two sentences: what went wrong for this lookup and what to do next."""
    code = error.code
    named = hint_for(code, product=_code(product), customer=_code(email))
    if code == "unknown_product":
        known = (
            " Products this bot knows: " + ", ".join(_code(p) for p in known_products) + "."
            if known_products
            else ""
        )
        return f":x: {named}{known}"
    if code == "invalid_product_auth_method":
        return f":x: {named}"
    if code in {"customer_does_not_exist", "customer_not_found"}:
        return f":mag: {named}"
    where = f"{_code(email)} in {_code(product)}"
    if error.transient:
        return (
            f":hourglass: LicenseSpring did not answer for {where} "
            f"({escape(code)}). Try again in a minute."
        )
    return f":warning: Lookup of {where} failed: {escape(error.hint)} ({_code(code)})"


def needs_reference(error: LicenseApiError) -> bool:
    """Failures people report to an operator: show the reference id that is in the log."""
    return error.transient or error.code not in {
        "unknown_product",
        "invalid_product_auth_method",
        "customer_does_not_exist",
        "customer_not_found",
    }


def lookup_message(
    outcomes: Sequence[LookupOutcome],
    *,
    email: str,
    known_products: Sequence[str],
    reference: str,
    buttons: SummaryButtons,
    page: int = 0,
    include_users: bool = True,
    retry_action: str = ActionId.RETRY,
) -> Message:
    """The reply to a lookup of one e-mail in one or several products.

    A failure LicenseSpring may not repeat (timeout, outage, rate limit) gets a "Try again"
    button (`retry_action`) that runs the same lookup again in place.

    Each outcome's `selection` (the lookup's search and filter) decides the users listed.
    """
    if len(outcomes) == 1:
        outcome = outcomes[0]
        if outcome.summary is not None:
            return render_summary(
                outcome.summary,
                lookup_email=email,
                page=page,
                buttons=buttons,
                include_users=include_users,
                selection=outcome.selection,
            )
        assert outcome.error is not None
        text = lookup_error_text(
            outcome.error, product=outcome.product, email=email, known_products=known_products
        )
        retry_value = affordable_button_value(outcome.product, email, page, outcome.query)
        retry = (
            (retry_action, retry_value)
            if outcome.error.transient and retry_value is not None
            else None
        )
        return render_notice(
            text,
            reference=reference if needs_reference(outcome.error) else None,
            retry=retry,
        )
    results = product_results(outcomes, email=email, known_products=known_products)
    query = next((o.selection.query for o in outcomes if o.selection is not None), EVERYONE)
    return render_multi_product(email, results, query)


def product_results(
    outcomes: Sequence[LookupOutcome], *, email: str, known_products: Sequence[str]
) -> list[tuple[str, Summary | str]]:
    """Per product: its summary, or the sentence saying why it has none."""
    results: list[tuple[str, Summary | str]] = []
    for outcome in outcomes:
        if outcome.summary is not None:
            results.append((outcome.product, outcome.summary))
            continue
        assert outcome.error is not None
        text = lookup_error_text(
            outcome.error, product=outcome.product, email=email, known_products=known_products
        )
        results.append((outcome.product, text))
    return results


THREAD_BUTTONS = SummaryButtons(share=False, show_users=True)
"""Under a visible thread reply: the list pages privately to whoever presses Show users."""


def private_buttons(settings: Settings, *, has_store: bool) -> SummaryButtons:
    """The buttons of a private answer, whatever surface asked (command, button, DM)."""
    return SummaryButtons(
        share=True,
        escalate=bool(settings.escalation_channel_id),
        watch=has_store,
        list_tools=True,
    )
