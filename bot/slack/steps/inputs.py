"""Pure: the inputs Workflow Builder hands the step -> what to look up, or why not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.emails import normalise_email
from bot.rendering.mrkdwn import escape_within
from bot.slack.core.grammar import InvalidRequest, is_product_code, parse_search

MISSING_EMAIL_TEXT = (
    ":x: No customer e-mail was given to the step. In Workflow Builder, fill the step's "
    "*Customer e-mail* with an answer from the form that starts the workflow, or an address."
)
NO_PRODUCT_TEXT = (
    ":x: No product given, and no default product is configured. Fill the step's *Product*, "
    "or set DEFAULT_PRODUCT or LICENSESPRING_PRODUCTS."
)


@dataclass(frozen=True, slots=True)
class StepRequest:
    """One run of the step, as far as the lookup is concerned."""

    products: tuple[str, ...]
    email: str
    search: str | None
    requested_by: str | None  # the Slack user the workflow acts for, when mapped


@dataclass(frozen=True, slots=True)
class StepInputError:
    """Inputs the lookup cannot use; `text` is the sentence the step fails with."""

    text: str
    requested_by: str | None
    email: str | None = None


def requested_by_of(inputs: Mapping[str, Any]) -> str | None:
    """The `requested_by` input: a Slack user id, or None when it is not mapped."""
    value = inputs.get("requested_by")
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_step_inputs(
    inputs: Mapping[str, Any], *, products: Sequence[str], default_product: str | None
) -> StepRequest | StepInputError:
    """The step's inputs -> a lookup, with the same rules and sentences as the command."""
    requested_by = requested_by_of(inputs)
    raw_email = _text(inputs.get("customer_email"))
    if not raw_email:
        return StepInputError(MISSING_EMAIL_TEXT, requested_by)
    email = normalise_email(raw_email)
    if email is None:
        return StepInputError(
            f":x: `{_shown(raw_email)}` is not a valid e-mail address.", requested_by
        )
    search = parse_search(_text(inputs.get("search")))
    if isinstance(search, InvalidRequest):
        return StepInputError(f":x: {search.reason}", requested_by, email)
    product = _text(inputs.get("product"))
    if product:
        chosen = _known_product(product, products)
        if isinstance(chosen, InvalidRequest):
            return StepInputError(f":x: {chosen.reason}", requested_by, email)
        return StepRequest((chosen,), email, search, requested_by)
    if default_product:
        return StepRequest((default_product,), email, search, requested_by)
    if products:
        return StepRequest(tuple(products), email, search, requested_by)
    return StepInputError(NO_PRODUCT_TEXT, requested_by, email)


def _known_product(word: str, products: Sequence[str]) -> str | InvalidRequest:
    if not is_product_code(word):
        return InvalidRequest(f"`{_shown(word)}` is not a product short code.")
    if not products:
        return word  # LicenseSpring decides whether it exists
    known = {p.casefold(): p for p in products}
    if word.casefold() not in known:
        names = ", ".join(f"`{p}`" for p in products)
        return InvalidRequest(f"Unknown product `{_shown(word)}`. Known products: {names}.")
    return known[word.casefold()]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _shown(word: str) -> str:
    return escape_within(word.replace("`", "'"), 60)
