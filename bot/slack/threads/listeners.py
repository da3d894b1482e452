"""Support escalation threads: `@bot <product> <email>` mentions and the message shortcut.

Both post the summary (without the per-user list; a "Show users" button pages it privately
to whoever presses it) as a reply in the thread they came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.config import Settings
from bot.emails import emails_in_text
from bot.rendering.blocks import Message, render_notice
from bot.rendering.ids import BOT_NAME, ActionId
from bot.rendering.metadata import ProductChoice, read_metadata
from bot.rendering.modals import PICKED_PRODUCT_ACTION, PICKED_PRODUCT_BLOCK, product_modal
from bot.rendering.replies import THREAD_BUTTONS, lookup_message
from bot.slack.core.errors import BadInput, NotConfigured, NotInChannel
from bot.slack.core.grammar import (
    HelpRequest,
    InvalidRequest,
    LookupRequest,
    ParsedCommand,
    parse_command,
    usage,
)
from bot.slack.core.policy import Understood
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services
from bot.userlist import EVERYONE, UserQuery

log = structlog.get_logger("slack.threads")

MAX_EMAILS_PER_SHORTCUT = 5
_LEADING_MENTIONS = re.compile(r"^(\s*<@[A-Z0-9]+(?:\|[^>]*)?>)+")


def mention_text(text: str) -> str:
    """The words after the leading `@bot` mention(s)."""
    return _LEADING_MENTIONS.sub("", text, count=1).strip()


# --- what each request asks for -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShortcutRequest:
    """The message shortcut: the e-mails in the message (at most five), and how to ask back."""

    emails: tuple[str, ...]
    trigger_id: str
    response_url: str | None


@dataclass(frozen=True, slots=True)
class ProductChosen:
    """The product picker's submission; None fields when the modal is not one the bot wrote."""

    choice: ProductChoice | None
    product: str | None


def read_mention(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[ParsedCommand]:
    event = body.get("event") or {}
    parsed = parse_command(
        mention_text(str(event.get("text", ""))),
        products=settings.licensespring_products,
        default_product=settings.default_product,
    )
    return Understood(parsed, actor.slack_user if actor else None, actor.channel if actor else None)


def read_shortcut(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[ShortcutRequest]:
    message = body.get("message") or {}
    emails = emails_in_text(str(message.get("text", "")))[:MAX_EMAILS_PER_SHORTCUT]
    url = body.get("response_url")
    asked = ShortcutRequest(
        tuple(emails), str(body.get("trigger_id", "")), url if isinstance(url, str) else None
    )
    return Understood(asked, actor.slack_user if actor else None, actor.channel if actor else None)


def read_product_chosen(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[ProductChosen]:
    view = body.get("view") or {}
    choice = read_metadata(ProductChoice, view.get("private_metadata"))
    try:
        state = view["state"]["values"][PICKED_PRODUCT_BLOCK][PICKED_PRODUCT_ACTION]
        product: str | None = str(state["selected_option"]["value"])
    except (KeyError, TypeError):
        product = None
    user = actor.slack_user if actor else None
    return Understood(ProductChosen(choice, product), user, choice.channel if choice else None)


# --- listeners ------------------------------------------------------------------------------


async def on_mention(
    asked: ParsedCommand, actor: Actor, reference: str, replier: Replier, services: Services
) -> None:
    settings = services.settings
    if not isinstance(asked, LookupRequest):
        reason = (
            f":x: {asked.reason}\n"
            if isinstance(asked, InvalidRequest)
            else ""
            if isinstance(asked, HelpRequest)
            else ":x: Watches are managed with `/license-users watch …`.\n"
        )
        text = reason + usage(settings.licensespring_products, settings.default_product).replace(
            "/license-users", f"@{BOT_NAME}"
        )
        await _reply_or_tell(replier, render_notice(text))
        return
    await post_lookups(
        actor,
        reference,
        replier,
        services,
        asked.products,
        [asked.email],
        surface="mention",
        query=UserQuery(asked.search),
    )


async def post_lookups(
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
    products: Sequence[str],
    emails: Sequence[str],
    *,
    surface: str,
    thread_ts: str | None = None,
    query: UserQuery = EVERYONE,
) -> None:
    """Look each e-mail up and reply in the thread; on a refused post, tell the user privately.

    With a `query` (a mention's search), the reply says how many users match and its
    "Show users" button lists the matches.
    """
    for email in emails:
        outcomes = await services.lookups.lookup(
            products, email, surface=surface, reference=reference, actor=actor, query=query
        )
        message = lookup_message(
            outcomes,
            email=email,
            known_products=services.settings.licensespring_products,
            reference=reference,
            buttons=THREAD_BUTTONS,
            include_users=False,
            retry_action=ActionId.RETRY_THREAD,
        )
        delivered = await _reply_or_tell(replier, message, thread_ts=thread_ts)
        await services.auditor.record(
            actor,
            "thread_reply",
            outcome="posted" if delivered else "not_posted",
            product=",".join(products),
            customer_email=email,
            reference=reference,
        )
        if not delivered:
            return


async def _reply_or_tell(
    replier: Replier, message: Message, *, thread_ts: str | None = None
) -> bool:
    """Reply in the thread; when Slack refuses, say why privately and return False."""
    if replier.actor is None or replier.actor.channel is None:
        return False
    try:
        await replier.in_thread(message, thread_ts=thread_ts)
    except NotInChannel as refused:
        log.info("thread_reply_refused", channel=replier.actor.channel, code=refused.code)
        await replier.private(render_notice(refused.text))
        return False
    return True


async def on_shortcut(
    ack: AsyncAck,
    asked: ShortcutRequest,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    if not asked.emails:
        raise BadInput(
            ":mag: No e-mail address in that message. Use the shortcut on a message that "
            "names the customer's e-mail."
        )
    settings = services.settings
    products = _shortcut_products(settings.default_product, settings.licensespring_products)
    if products is None:
        raise NotConfigured(
            ":x: No product is configured: set DEFAULT_PRODUCT or LICENSESPRING_PRODUCTS."
        )
    if len(products) > 1:
        if not actor.channel:
            raise BadInput(":x: Use the shortcut on a message in a channel.")
        choice = ProductChoice(
            channel=actor.channel,
            thread_ts=actor.thread_ts,
            emails=asked.emails,
            response_url=asked.response_url,
        )
        await replier.open_modal(asked.trigger_id, product_modal(products, choice))
        return
    await post_lookups(
        actor, reference, replier, services, products, asked.emails, surface="shortcut"
    )


def _shortcut_products(default: str | None, products: Sequence[str]) -> tuple[str, ...] | None:
    if default:
        return (default,)
    return tuple(products) or None


async def on_product_chosen(
    ack: AsyncAck,
    asked: ProductChosen,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    choice, product = asked.choice, asked.product
    if choice is None or product is None:
        log.warning("product_modal_unreadable")
        return
    if product not in services.settings.licensespring_products:
        return
    await post_lookups(
        replace(actor, channel=choice.channel),
        reference,
        replier,
        services,
        (product,),
        choice.emails,
        surface="shortcut",
        thread_ts=choice.thread_ts,
    )
