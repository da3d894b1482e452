"""Pure: reading the lookup and watch forms' submissions into typed values, or errors keyed
by the block to show them under."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.emails import normalise_email
from bot.rendering.metadata import FormOrigin, read_metadata
from bot.rendering.modals import (
    CHANNEL_ACTION,
    CHANNEL_BLOCK,
    EMAIL_ACTION,
    EMAIL_BLOCK,
    PRODUCT_ACTION,
    PRODUCT_BLOCK,
    SEARCH_ACTION,
    SEARCH_BLOCK,
    THRESHOLD_ACTION,
    THRESHOLD_BLOCK,
    LookupForm,
    WatchForm,
)
from bot.rendering.mrkdwn import truncate
from bot.slack.core.grammar import MAX_SEARCH_CHARS, InvalidRequest, is_product_code, parse_search

MAX_ERROR_CHARS = 150

Errors = dict[str, str]


def form_origin(view: dict[str, Any]) -> FormOrigin | None:
    """Who opened the modal and from where, or None for metadata the bot did not write."""
    return read_metadata(FormOrigin, view.get("private_metadata"))


def selected_channel(view: dict[str, Any]) -> str | None:
    """The channel picked in a watch modal's submission, if any."""
    value = _state(view, CHANNEL_BLOCK, CHANNEL_ACTION).get("selected_conversation")
    return value if isinstance(value, str) and value else None


def read_lookup_form(view: dict[str, Any], products: Sequence[str]) -> LookupForm | Errors:
    """The submitted lookup, or errors keyed by the block to show them under."""
    errors: Errors = {}
    product = _read_product(view, products, errors)
    email = _read_email(view, errors)
    search = parse_search(_input_value(view, SEARCH_BLOCK, SEARCH_ACTION))
    if isinstance(search, InvalidRequest):
        errors[SEARCH_BLOCK] = (
            f"Keep the search to {MAX_SEARCH_CHARS} characters: a name or an e-mail."
        )
    if errors or product is None or email is None or isinstance(search, InvalidRequest):
        return errors
    return LookupForm(product, email, search)


def read_watch_form(view: dict[str, Any], products: Sequence[str]) -> WatchForm | Errors:
    """The submitted watch, or errors keyed by the block to show them under."""
    errors: Errors = {}
    product = _read_product(view, products, errors)
    email = _read_email(view, errors)
    channel = selected_channel(view)
    if channel is None or not channel.startswith(("C", "G")):
        errors[CHANNEL_BLOCK] = "Pick a public or private channel for the alerts."
    raw = _input_value(view, THRESHOLD_BLOCK, THRESHOLD_ACTION).strip().rstrip("%")
    threshold = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else None
    if threshold is None or not 1 <= threshold <= 100:
        errors[THRESHOLD_BLOCK] = "Give a whole percentage from 1 to 100."
    if errors or product is None or email is None or channel is None or threshold is None:
        return errors
    return WatchForm(product, email, channel, threshold)


def _read_product(view: dict[str, Any], products: Sequence[str], errors: Errors) -> str | None:
    state = _state(view, PRODUCT_BLOCK, PRODUCT_ACTION)
    option = state.get("selected_option")
    raw = option.get("value") if isinstance(option, dict) else state.get("value")
    word = raw.strip() if isinstance(raw, str) else ""
    if not word:
        errors[PRODUCT_BLOCK] = "Say which product to look in."
        return None
    if products:
        known = {p.casefold(): p for p in products}
        if word.casefold() not in known:
            errors[PRODUCT_BLOCK] = _error(f"Unknown product {word!r}. Pick one from the list.")
            return None
        return known[word.casefold()]
    if not is_product_code(word):
        errors[PRODUCT_BLOCK] = _error(f"{word!r} is not a product short code.")
        return None
    return word


def _read_email(view: dict[str, Any], errors: Errors) -> str | None:
    raw = _input_value(view, EMAIL_BLOCK, EMAIL_ACTION).strip()
    if not raw:
        errors[EMAIL_BLOCK] = "Give the customer's e-mail address."
        return None
    email = normalise_email(raw)
    if email is None:
        errors[EMAIL_BLOCK] = _error(f"{raw!r} is not an e-mail address, e.g. ada@example.com.")
    return email


def _error(text: str) -> str:
    return truncate(text, MAX_ERROR_CHARS)


def _state(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    values = ((view.get("state") or {}).get("values")) or {}
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get(action_id) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def _input_value(view: dict[str, Any], block_id: str, action_id: str) -> str:
    value = _state(view, block_id, action_id).get("value")
    return value if isinstance(value, str) else ""
