"""The "Show" button beside each customer a license user belongs to: that customer's answer,
narrowed to the user, headed by the line saying whose license user it is."""

from __future__ import annotations

from dataclasses import replace

from slack_bolt.async_app import AsyncAck

from bot.audit import Actor
from bot.rendering.replies import lookup_message, private_buttons
from bot.reverse import CustomerMatch, Found, ReverseLookup
from bot.slack.answers.state import Asked, lookup_pressed
from bot.slack.core.replier import Replier
from bot.slack.core.services import Services


async def choose_customer(
    ack: AsyncAck,
    asked: Asked,
    actor: Actor,
    reference: str,
    replier: Replier,
    services: Services,
) -> None:
    await ack()
    pressed = await lookup_pressed(asked, actor, reference, services, "button")
    outcome, license_user = pressed.outcome, pressed.state.query.search or ""
    if outcome.summary is not None and license_user:
        customer = outcome.summary.customer
        found = CustomerMatch(pressed.state.email, customer.name, customer.company_name)
        outcome = replace(outcome, reverse=ReverseLookup(Found.ONE, license_user, (found,)))
    message = lookup_message(
        [outcome],
        email=pressed.state.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=private_buttons(services.settings, has_store=services.store is not None),
    )
    await replier.private(message)
