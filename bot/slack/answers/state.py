"""What a button on an answer asks for, read once by the answer readers (which also say where
the result is seen), and the lookup it runs again (usually a cache hit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.audit import Actor
from bot.config import Settings
from bot.lookup import LookupOutcome
from bot.rendering.blocks import (
    ListState,
    SummaryButtons,
    parse_filter_choice,
    parse_state_value,
)
from bot.rendering.ids import ActionId
from bot.rendering.replies import lookup_message
from bot.slack.core.context import pressed_action
from bot.slack.core.errors import (
    StaleButton,
    UpstreamFailed,
)
from bot.slack.core.policy import Reader, Understood
from bot.slack.core.services import Services
from bot.summary import Summary
from bot.userlist import Selection, everyone

# --- what a button asks for ------------------------------------------------------------------


Asked = ListState | None
"""What a button on an answer asks for; None for a button that is not (or no longer) ours."""


def list_state_of(body: dict[str, Any]) -> Asked:
    """Pure: what the pressed button or chosen menu item asks for."""
    action = pressed_action(body)
    try:
        if action.get("action_id") == ActionId.FILTER:
            chosen = (action.get("selected_option") or {}).get("value", "")
            return parse_filter_choice(str(action.get("block_id", "")), str(chosen))
        return parse_state_value(str(action.get("value", "")))
    except ValueError:
        return None


def _reader(visible_in: Callable[[Actor, Settings], str | None]) -> Reader:
    def read(body: dict[str, Any], actor: Actor | None, settings: Settings) -> Understood[Asked]:
        posts_in = visible_in(actor, settings) if actor is not None else None
        return Understood(list_state_of(body), actor.slack_user if actor else None, posts_in)

    return read


read_private = _reader(lambda actor, settings: None)
"""Paging, filter, show users, try again (privately), export: only the presser sees them."""
read_in_channel = _reader(lambda actor, settings: actor.channel)
"""Share and try again in a thread: everyone in the channel sees the answer."""
read_escalation = _reader(lambda actor, settings: settings.escalation_channel_id)
"""Escalate: everyone in the escalation channel sees it."""


def state_of(asked: Asked) -> ListState:
    if asked is None:
        raise StaleButton()
    return asked


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button's lookup, done again (usually a cache hit)."""

    outcome: LookupOutcome
    state: ListState


async def lookup_pressed(
    asked: Asked, actor: Actor, reference: str, services: Services, surface: str
) -> Pressed:
    state = state_of(asked)
    outcomes = await services.lookups.lookup(
        (state.product,),
        state.email,
        surface=surface,
        reference=reference,
        actor=actor,
        query=state.query,
    )
    return Pressed(outcomes[0], state)


@dataclass(frozen=True, slots=True)
class Found:
    outcome: LookupOutcome
    summary: Summary
    selection: Selection


async def found_pressed(
    asked: Asked, actor: Actor, reference: str, services: Services, surface: str
) -> Found:
    """The button's customer summary and selection; UpstreamFailed when LicenseSpring failed."""
    pressed = await lookup_pressed(asked, actor, reference, services, surface)
    outcome = pressed.outcome
    if outcome.summary is None:
        failed = lookup_message(
            [outcome],
            email=outcome.email,
            known_products=services.settings.licensespring_products,
            reference=reference,
            buttons=SummaryButtons(share=False),
        )
        raise UpstreamFailed(failed.text, failure=failed)
    return Found(outcome, outcome.summary, outcome.selection or everyone(outcome.summary))


async def audit(
    services: Services,
    actor: Actor,
    action: str,
    result: str,
    outcome: LookupOutcome,
    reference: str,
    detail: str | None = None,
) -> None:
    await services.auditor.record(
        actor,
        action,
        outcome=result,
        product=outcome.product,
        customer_email=outcome.email,
        reference=reference,
        detail=detail,
    )
