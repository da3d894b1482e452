"""Paging, the filter menu, Show users and Try again: the answer again, in place or privately."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.rendering.blocks import render_notice
from bot.rendering.ids import ActionId
from bot.rendering.mrkdwn import escape
from bot.rendering.replies import THREAD_BUTTONS, lookup_message, private_buttons
from bot.slack.answers.state import Asked, lookup_pressed, state_of
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services

# --- paging, filtering, show users, try again ---------------------------------------------


async def page(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _show(asked, actor, reference, replier, services, replace=True)


async def show_users(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _show(asked, actor, reference, replier, services, replace=False)


async def _show(
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
    *,
    replace: bool,
) -> None:
    pressed = await lookup_pressed(asked, actor, reference, services, "button")
    message = lookup_message(
        [pressed.outcome],
        email=pressed.outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=private_buttons(services.settings, has_store=services.store is not None),
        page=pressed.state.page,
    )
    await replier.private(message, replace=replace)


async def retry(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _retry(asked, actor, reference, replier, services, in_thread=False)


async def retry_in_thread(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    await _retry(asked, actor, reference, replier, services, in_thread=True)


async def _retry(
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
    *,
    in_thread: bool,
) -> None:
    """Run a failed lookup again and replace the failure reply with the new answer."""
    state = state_of(asked)
    answer = replier.visible if in_thread else replier.private
    where = f"`{escape(state.email)}` in `{escape(state.product)}`"
    await answer(render_notice(f":hourglass_flowing_sand: Looking up {where} again…"), replace=True)
    pressed = await lookup_pressed(asked, actor, reference, services, "retry")
    message = lookup_message(
        [pressed.outcome],
        email=pressed.outcome.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=THREAD_BUTTONS
        if in_thread
        else private_buttons(services.settings, has_store=services.store is not None),
        page=pressed.state.page,
        include_users=not in_thread,
        retry_action=ActionId.RETRY_THREAD if in_thread else ActionId.RETRY,
    )
    await answer(message, replace=True)
