"""Support escalation threads: `@bot <product> <email>` mentions and the message shortcut.

Both post the summary (without the per-user list; a "Show users" button pages it privately
to whoever presses it) as a reply in the thread they came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.emails import emails_in_text
from bot.lookup import new_reference
from bot.slack.blocks import ACTION_RETRY_THREAD, Message, SummaryButtons, render_notice
from bot.slack.mrkdwn import escape
from bot.slack.parsing import HelpRequest, InvalidRequest, LookupRequest, parse_command, usage
from bot.slack.replies import lookup_message
from bot.userlist import EVERYONE, UserQuery

if TYPE_CHECKING:
    from bot.slack.app import Services

log = structlog.get_logger("slack.threads")

SHORTCUT_CALLBACK_ID = "lookup_license_users"
PRODUCT_MODAL_CALLBACK_ID = "choose_product"
PRODUCT_BLOCK_ID = "product"
PRODUCT_ACTION_ID = "product_choice"
MAX_EMAILS_PER_SHORTCUT = 5
_LEADING_MENTIONS = re.compile(r"^(\s*<@[A-Z0-9]+(?:\|[^>]*)?>)+")
THREAD_BUTTONS = SummaryButtons(share=False, show_users=True)


def mention_text(text: str) -> str:
    """The words after the leading `@bot` mention(s)."""
    return _LEADING_MENTIONS.sub("", text, count=1).strip()


class CannotPost(Exception):
    """The bot may not post in that conversation; `hint` says how to fix it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def hint(self) -> str:
        if self.code in {"not_in_channel", "channel_not_found"}:
            return (
                ":wave: I can't post in that channel yet. Invite me with "
                "`/invite @License Users` and try again."
            )
        if self.code == "is_archived":
            return ":file_cabinet: That channel is archived, so I can't reply there."
        return f":warning: Slack refused the reply ({escape(self.code)})."


async def post_in_thread(
    client: AsyncWebClient, channel: str, thread_ts: str | None, message: Message
) -> str:
    """Post `message` (as a thread reply when `thread_ts`); returns its ts or raises CannotPost."""
    try:
        response = await client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as error:
        raise CannotPost(str(error.response.get("error", "unknown_error"))) from None
    return str(response.get("ts", ""))


def register(app: AsyncApp, services: Services) -> None:
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        await handle_mention(event, client, services)

    async def on_shortcut(
        ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        await handle_shortcut(shortcut, client, respond, services)

    async def on_product_chosen(
        ack: AsyncAck, view: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await handle_product_chosen(view, body, client, services)

    tracked = services.tasks.listener
    app.event("app_mention")(tracked(on_mention))
    app.shortcut(SHORTCUT_CALLBACK_ID)(tracked(on_shortcut))
    app.view(PRODUCT_MODAL_CALLBACK_ID)(tracked(on_product_chosen))


async def handle_mention(event: dict[str, Any], client: AsyncWebClient, services: Services) -> None:
    channel = str(event.get("channel", ""))
    actor = Actor(str(event.get("user", "")), channel)
    thread_ts = str(event.get("thread_ts") or event.get("ts") or "") or None
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
            "/license-users", "@License Users"
        )
        await _reply_or_tell(client, actor, thread_ts, render_notice(text), services)
        return
    await post_lookups(
        client,
        actor,
        thread_ts,
        parsed.products,
        [parsed.email],
        services,
        surface="mention",
        query=UserQuery(parsed.search),
    )


async def post_lookups(
    client: AsyncWebClient,
    actor: Actor,
    thread_ts: str | None,
    products: Sequence[str],
    emails: Sequence[str],
    services: Services,
    *,
    surface: str,
    respond: AsyncRespond | None = None,
    query: UserQuery = EVERYONE,
) -> None:
    """Look each e-mail up and reply in the thread; on a refused post, tell the user privately.

    With a `query` (a mention's search), the reply says how many users match and its
    "Show users" button lists the matches.
    """
    for email in emails:
        reference = new_reference()
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
            retry_action=ACTION_RETRY_THREAD,
        )
        delivered = await _reply_or_tell(client, actor, thread_ts, message, services, respond)
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
    client: AsyncWebClient,
    actor: Actor,
    thread_ts: str | None,
    message: Message,
    services: Services,
    respond: AsyncRespond | None = None,
) -> bool:
    if actor.channel is None:
        return False
    try:
        await post_in_thread(client, actor.channel, thread_ts, message)
        return True
    except CannotPost as refused:
        log.info("thread_reply_refused", channel=actor.channel, code=refused.code)
        await _tell_privately(client, actor, thread_ts, refused.hint, respond)
        return False


async def _tell_privately(
    client: AsyncWebClient,
    actor: Actor,
    thread_ts: str | None,
    text: str,
    respond: AsyncRespond | None,
) -> None:
    try:
        if respond is not None:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        elif actor.channel:
            await client.chat_postEphemeral(
                channel=actor.channel, user=actor.slack_user, text=text, thread_ts=thread_ts
            )
    except (SlackApiError, OSError) as error:
        log.warning("private_notice_failed", channel=actor.channel, error=str(error))


async def handle_shortcut(
    shortcut: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, services: Services
) -> None:
    message = shortcut.get("message") or {}
    channel = str((shortcut.get("channel") or {}).get("id", ""))
    actor = Actor(str((shortcut.get("user") or {}).get("id", "")), channel)
    thread_ts = str(message.get("thread_ts") or message.get("ts") or "") or None
    emails = emails_in_text(str(message.get("text", "")))[:MAX_EMAILS_PER_SHORTCUT]
    if not emails:
        await respond(
            text=":mag: No e-mail address in that message. Use the shortcut on a message that "
            "names the customer's e-mail.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    settings = services.settings
    products = _shortcut_products(settings.default_product, settings.licensespring_products)
    if products is None:
        await respond(
            text=":x: No product is configured: set DEFAULT_PRODUCT or LICENSESPRING_PRODUCTS.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    if len(products) > 1:
        await _open_product_modal(client, shortcut, products, channel, thread_ts, emails)
        return
    await post_lookups(
        client, actor, thread_ts, products, emails, services, surface="shortcut", respond=respond
    )


def _shortcut_products(default: str | None, products: Sequence[str]) -> tuple[str, ...] | None:
    if default:
        return (default,)
    return tuple(products) or None


async def _open_product_modal(
    client: AsyncWebClient,
    shortcut: dict[str, Any],
    products: Sequence[str],
    channel: str,
    thread_ts: str | None,
    emails: Sequence[str],
) -> None:
    metadata = json.dumps(
        {
            "channel": channel,
            "thread_ts": thread_ts,
            "emails": list(emails),
            "response_url": shortcut.get("response_url"),
        }
    )
    await client.views_open(
        trigger_id=shortcut["trigger_id"],
        view=product_modal(products, emails, metadata),
    )


def product_modal(products: Sequence[str], emails: Sequence[str], metadata: str) -> dict[str, Any]:
    """Pure: the small modal asking which product to look the e-mails up in."""
    who = ", ".join(f"`{escape(e)}`" for e in emails)
    return {
        "type": "modal",
        "callback_id": PRODUCT_MODAL_CALLBACK_ID,
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


async def handle_product_chosen(
    view: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, services: Services
) -> None:
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
    actor = Actor(str((body.get("user") or {}).get("id", "")), channel)
    thread_ts = metadata.get("thread_ts")
    await post_lookups(
        client,
        actor,
        str(thread_ts) if thread_ts else None,
        (product,),
        emails,
        services,
        surface="shortcut",
    )
