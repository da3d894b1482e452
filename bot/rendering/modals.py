"""Pure: the lookup and watch modals, the message shortcut's product picker, and small notice
modals. No I/O.

Every view built here passes slack-sdk's `View(**view).validate_json()` (tested).
`private_metadata` carries one of the shapes of `bot.rendering.metadata`, never anything secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.alert_rules import DEFAULT_THRESHOLD_PCT
from bot.rendering.blocks import plain_text, section_block
from bot.rendering.ids import INVITE_COMMAND, CallbackId
from bot.rendering.metadata import FormOrigin, ProductChoice
from bot.rendering.mrkdwn import escape, truncate
from bot.userlist import MAX_SEARCH_CHARS

PRODUCT_BLOCK, PRODUCT_ACTION = "form_product", "product"
EMAIL_BLOCK, EMAIL_ACTION = "form_email", "email"
SEARCH_BLOCK, SEARCH_ACTION = "form_search", "search"
CHANNEL_BLOCK, CHANNEL_ACTION = "form_channel", "channel"
THRESHOLD_BLOCK, THRESHOLD_ACTION = "form_threshold", "threshold"

PICKED_PRODUCT_BLOCK, PICKED_PRODUCT_ACTION = "product", "product_choice"

_MAX_OPTIONS = 100
_MAX_TITLE_CHARS = 24


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
        "private_metadata": origin.dump(),
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


def product_modal(products: Sequence[str], choice: ProductChoice) -> dict[str, Any]:
    """The message shortcut's question: which product to look the e-mails up in."""
    who = ", ".join(f"`{escape(e)}`" for e in choice.emails)
    return {
        "type": "modal",
        "callback_id": CallbackId.PRODUCT_MODAL,
        "private_metadata": choice.dump(),
        "title": plain_text("License users"),
        "submit": plain_text("Look up"),
        "close": plain_text("Cancel"),
        "blocks": [
            section_block(f"Look up {who} in:"),
            {
                "type": "input",
                "block_id": PICKED_PRODUCT_BLOCK,
                "label": plain_text("Product"),
                "element": {
                    "type": "static_select",
                    "action_id": PICKED_PRODUCT_ACTION,
                    "initial_option": _option(products[0]),
                    "options": [_option(p) for p in products[:_MAX_OPTIONS]],
                },
            },
        ],
    }
