"""Support escalation threads: `@bot <product> <email>` mentions and the message shortcut.

Both post the summary (without the per-user list; a "Show users" button pages it privately
to whoever presses it) as a reply in the thread they came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit import Actor
from bot.emails import emails_in_text
from bot.rendering.blocks import Message, render_notice
from bot.rendering.ids import BOT_NAME, ActionId, CallbackId
from bot.rendering.mrkdwn import escape
from bot.slack.errors import BadInput, NotConfigured, NotInChannel
from bot.slack.parsing import HelpRequest, InvalidRequest, LookupRequest, parse_command, usage
from bot.slack.replier import Replier
from bot.slack.replies import THREAD_BUTTONS, lookup_message
from bot.slack.services import Services
from bot.tasks import TaskTracker
from bot.userlist import EVERYONE, UserQuery

log = structlog.get_logger("slack.threads")

PRODUCT_BLOCK_ID = "product"
PRODUCT_ACTION_ID = "product_choice"
MAX_EMAILS_PER_SHORTCUT = 5
_LEADING_MENTIONS = re.compile(r"^(\s*<@[A-Z0-9]+(?:\|[^>]*)?>)+")


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.event("app_mention")(tasks.listener(on_mention))
    app.shortcut(CallbackId.MESSAGE_SHORTCUT)(tasks.listener(on_shortcut))
    app.view(CallbackId.PRODUCT_MODAL)(tasks.listener(on_product_chosen))


def mention_text(text: str) -> str:
    """The words after the leading `@bot` mention(s)."""
    return _LEADING_MENTIONS.sub("", text, count=1).strip()


async def on_mention(
    event: dict[str, Any], actor: Actor, reference: str, replier: Replier, services: Services
) -> None:
    settings = services.settings
    parsed = parse_command(
        mention_text(str(event.get("text", ""))),
        products=settings.licensespring_products,
        default_product=settings.default_product,
    )
    if not isinstance(parsed, LookupRequest):
        reason = (
            f":x: {parsed.reason}\n"
            if isinstance(parsed, InvalidRequest)
            else ""
            if isinstance(parsed, HelpRequest)
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
        parsed.products,
        [parsed.email],
        surface="mention",
        query=UserQuery(parsed.search),
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
    shortcut: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    message = shortcut.get("message") or {}
    emails = emails_in_text(str(message.get("text", "")))[:MAX_EMAILS_PER_SHORTCUT]
    if not emails:
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
        metadata = json.dumps(
            {
                "channel": actor.channel,
                "thread_ts": actor.thread_ts,
                "emails": list(emails),
                "response_url": shortcut.get("response_url"),
            }
        )
        view = product_modal(products, emails, metadata)
        await replier.open_modal(str(shortcut.get("trigger_id", "")), view)
        return
    await post_lookups(actor, reference, replier, services, products, emails, surface="shortcut")


def _shortcut_products(default: str | None, products: Sequence[str]) -> tuple[str, ...] | None:
    if default:
        return (default,)
    return tuple(products) or None


def product_modal(products: Sequence[str], emails: Sequence[str], metadata: str) -> dict[str, Any]:
    """Pure: the small modal asking which product to look the e-mails up in."""
    who = ", ".join(f"`{escape(e)}`" for e in emails)
    return {
        "type": "modal",
        "callback_id": CallbackId.PRODUCT_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "License users"},
        "submit": {"type": "plain_text", "text": "Look up"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"Look up {who} in:"}},
            {
                "type": "input",
                "block_id": PRODUCT_BLOCK_ID,
                "label": {"type": "plain_text", "text": "Product"},
                "element": {
                    "type": "static_select",
                    "action_id": PRODUCT_ACTION_ID,
                    "initial_option": _option(products[0]),
                    "options": [_option(p) for p in products[:100]],
                },
            },
        ],
    }


def _option(product: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": product[:75]}, "value": product[:150]}


async def on_product_chosen(
    ack: AsyncAck,
    view: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
        state = view["state"]["values"][PRODUCT_BLOCK_ID][PRODUCT_ACTION_ID]
        product = str(state["selected_option"]["value"])
        emails = [str(e) for e in metadata["emails"]][:MAX_EMAILS_PER_SHORTCUT]
        channel = str(metadata["channel"])
    except (ValueError, KeyError, TypeError):
        log.warning("product_modal_unreadable")
        return
    if product not in services.settings.licensespring_products:
        return
    thread_ts = metadata.get("thread_ts")
    await post_lookups(
        replace(actor, channel=channel),
        reference,
        replier,
        services,
        (product,),
        emails,
        surface="shortcut",
        thread_ts=str(thread_ts) if thread_ts else None,
    )
