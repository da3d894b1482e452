"""The "Show" button beside each customer a license user belongs to: that customer's answer,
narrowed to the user, headed by the line saying whose license user it is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.audit import Actor
from bot.rendering.blocks import parse_state_value
from bot.rendering.ids import CHOOSE_CUSTOMER_PATTERN
from bot.reverse import CustomerMatch, Found, ReverseLookup
from bot.slack.context import pressed_value
from bot.slack.errors import StaleButton
from bot.slack.replier import Replier
from bot.slack.replies import lookup_message, private_buttons
from bot.slack.services import Services
from bot.tasks import TaskTracker


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    app.action(CHOOSE_CUSTOMER_PATTERN)(tasks.listener(choose_customer))


async def choose_customer(
    ack: AsyncAck,
    body: dict[str, Any],
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    try:
        state = parse_state_value(pressed_value(body))
    except ValueError:
        raise StaleButton() from None
    license_user = state.query.search or ""
    outcomes = await services.lookups.lookup(
        (state.product,),
        state.email,
        surface="button",
        reference=reference,
        actor=actor,
        query=state.query,
    )
    outcome = outcomes[0]
    if outcome.summary is not None and license_user:
        customer = outcome.summary.customer
        found = CustomerMatch(state.email, customer.name, customer.company_name)
        outcome = replace(outcome, reverse=ReverseLookup(Found.ONE, license_user, (found,)))
    message = lookup_message(
        [outcome],
        email=state.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=private_buttons(services.settings, has_store=services.store is not None),
    )
    await replier.private(message)
