"""Pure: the lookup and watch modals, reading their submissions, and small notice modals.

No I/O. Every view built here passes slack-sdk's `View(**view).validate_json()` (tested).
`private_metadata` carries who opened the form and from where, never anything secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.emails import normalise_email
from bot.rendering.blocks import plain_text, section_block
from bot.rendering.ids import INVITE_COMMAND, CallbackId
from bot.rendering.mrkdwn import truncate
from bot.slack.parsing import (
    DEFAULT_THRESHOLD_PCT,
    MAX_SEARCH_CHARS,
    InvalidRequest,
    is_product_code,
    parse_search,
)

PRODUCT_BLOCK, PRODUCT_ACTION = "form_product", "product"
EMAIL_BLOCK, EMAIL_ACTION = "form_email", "email"
SEARCH_BLOCK, SEARCH_ACTION = "form_search", "search"
CHANNEL_BLOCK, CHANNEL_ACTION = "form_channel", "channel"
THRESHOLD_BLOCK, THRESHOLD_ACTION = "form_threshold", "threshold"

MAX_ERROR_CHARS = 150
_MAX_OPTIONS = 100
_MAX_TITLE_CHARS = 24

Errors = dict[str, str]


@dataclass(frozen=True, slots=True)
class FormOrigin:
    """Who opened a modal and from which surface: home | shortcut | summary."""

    user: str
    origin: str


@dataclass(frozen=True, slots=True)
class LookupForm:
    product: str
    email: str
    search: str | None


@dataclass(frozen=True, slots=True)
class WatchForm:
    product: str
    email: str
    channel: str
    threshold_pct: int


# ---------------------------------------------------------------------------------------------
# Building


def lookup_modal(
    products: Sequence[str],
    default_product: str | None,
    origin: FormOrigin,
    *,
    initial: LookupForm | None = None,
    problem: str | None = None,
) -> dict[str, Any]:
    """Product, customer e-mail and an optional search; `problem` (mrkdwn) is shown on top."""
    blocks = _problem_blocks(problem)
    blocks += [
        _product_input(products, initial.product if initial else default_product),
        _text_input(
            EMAIL_BLOCK,
            EMAIL_ACTION,
            "Customer e-mail",
            initial.email if initial else None,
            placeholder="ada@example.com",
        ),
        _text_input(
            SEARCH_BLOCK,
            SEARCH_ACTION,
            "Search (optional)",
            initial.search if initial else None,
            placeholder="a user's name or e-mail",
            optional=True,
            max_length=MAX_SEARCH_CHARS,
        ),
    ]
    return _modal(CallbackId.LOOKUP_MODAL, "Look up license users", blocks, origin, "Look up")


def watch_modal(
    products: Sequence[str],
    default_product: str | None,
    origin: FormOrigin,
    *,
    initial: WatchForm | None = None,
    product: str | None = None,
    email: str | None = None,
    channel: str | None = None,
    problem: str | None = None,
) -> dict[str, Any]:
    """Customer, channel (default: the current one) and threshold for a new watch."""
    if initial is not None:
        product, email, channel = initial.product, initial.email, initial.channel
    threshold = initial.threshold_pct if initial else DEFAULT_THRESHOLD_PCT
    picker: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": CHANNEL_ACTION,
        "placeholder": plain_text("Pick a channel"),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if channel and channel.startswith(("C", "G")):
        picker["initial_conversation"] = channel
    else:
        picker["default_to_current_conversation"] = True
    blocks = _problem_blocks(problem)
    blocks += [
        _product_input(products, product or default_product),
        _text_input(
            EMAIL_BLOCK, EMAIL_ACTION, "Customer e-mail", email, placeholder="ada@example.com"
        ),
        {
            "type": "input",
            "block_id": CHANNEL_BLOCK,
            "label": plain_text("Post alerts in"),
            "hint": plain_text(f"I must be a member: {INVITE_COMMAND} there first."),
            "element": picker,
        },
        {
            "type": "input",
            "block_id": THRESHOLD_BLOCK,
            "label": plain_text("Alert at (% of all activations used)"),
            "element": {
                "type": "number_input",
                "action_id": THRESHOLD_ACTION,
                "is_decimal_allowed": False,
                "min_value": "1",
                "max_value": "100",
                "initial_value": str(threshold),
            },
        },
    ]
    return _modal(CallbackId.WATCH_MODAL, "Watch a customer", blocks, origin, "Watch")


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (progress, result, refusal); `text` is mrkdwn."""
    return {
        "type": "modal",
        "callback_id": CallbackId.NOTICE_MODAL,
        "title": plain_text(truncate(title, _MAX_TITLE_CHARS)),
        "close": plain_text("Close"),
        "blocks": [section_block(text)],
    }


def _modal(
    callback_id: str, title: str, blocks: list[dict[str, Any]], origin: FormOrigin, submit: str
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps({"user": origin.user, "origin": origin.origin}),
        "title": plain_text(truncate(title, _MAX_TITLE_CHARS)),
        "submit": plain_text(submit),
        "close": plain_text("Cancel"),
        "blocks": blocks,
    }


def _problem_blocks(problem: str | None) -> list[dict[str, Any]]:
    return [section_block(problem)] if problem else []


def _option(product: str) -> dict[str, Any]:
    return {"text": plain_text(truncate(product, 75)), "value": product[:150]}


def _product_input(products: Sequence[str], selected: str | None) -> dict[str, Any]:
    if not products:
        return _text_input(
            PRODUCT_BLOCK, PRODUCT_ACTION, "Product", selected, placeholder="product short code"
        )
    options = [_option(p) for p in products[:_MAX_OPTIONS]]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": PRODUCT_ACTION,
        "placeholder": plain_text("Pick a product"),
        "options": options,
    }
    chosen = next((o for o in options if selected and o["value"] == selected), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": PRODUCT_BLOCK,
        "label": plain_text("Product"),
        "element": element,
    }


def _text_input(
    block_id: str,
    action_id: str,
    label: str,
    initial: str | None,
    *,
    placeholder: str,
    optional: bool = False,
    max_length: int = 254,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "placeholder": plain_text(placeholder),
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain_text(label),
        "element": element,
    }
    if optional:
        block["optional"] = True
    return block


# ---------------------------------------------------------------------------------------------
# Reading submissions


def form_origin(view: dict[str, Any]) -> FormOrigin | None:
    """Who opened the modal and from where, or None for metadata the bot did not write."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(metadata, dict):
        return None
    user, origin = metadata.get("user"), metadata.get("origin")
    if not isinstance(user, str) or not isinstance(origin, str):
        return None
    return FormOrigin(user, origin)


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
    threshold = int(raw) if raw.isdigit() else None
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
