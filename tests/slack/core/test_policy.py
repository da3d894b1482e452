"""Access decided from the value each listener acts on, over the real app, for every shape.

Each watch shape the grammar accepts is tried against ALLOWED_CHANNEL_IDS (product first,
e-mail first, the default product, the channel before or after the threshold), and every
surface that posts visibly or opens work is tried with a user the lists refuse.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.config import Settings
from bot.rendering.blocks import ListState, state_value
from bot.rendering.ids import ActionId, CallbackId
from bot.rendering.metadata import FormOrigin
from bot.rendering.modals import (
    CHANNEL_BLOCK,
    EMAIL_BLOCK,
    PRODUCT_BLOCK,
    THRESHOLD_BLOCK,
    lookup_modal,
    watch_modal,
)
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.slack.app import create_app
from bot.slack.core.policy import Guard
from tests.slack.watches.test_watching import watches_in
from tests.slack_harness import BotFactory, RunningBot

PRODUCT = "acme-desktop"
OUTSIDE = "COUTSIDE"
ALLOWED = "COK"


LISTED = {"licensespring_products": [PRODUCT, "acme-cli"]}
WATCH_SHAPES = [
    # (settings, command text); every one names a channel outside the allowed list
    ({}, f"watch {PRODUCT} {seed.TYPICAL} <#{OUTSIDE}|x>"),
    ({}, f"watch {seed.TYPICAL} {PRODUCT} <#{OUTSIDE}|x>"),
    ({}, f"watch <#{OUTSIDE}|x> {PRODUCT} {seed.TYPICAL}"),
    ({}, f"watch {PRODUCT} {seed.TYPICAL} <#{OUTSIDE}|x> at 80%"),
    ({}, f"watch {PRODUCT} {seed.TYPICAL} at 80% <#{OUTSIDE}|x>"),
    ({}, f"watch {PRODUCT} {seed.TYPICAL} at 80 <#{OUTSIDE}>"),
    ({"default_product": PRODUCT}, f"watch {seed.TYPICAL} <#{OUTSIDE}|x>"),
    ({"default_product": PRODUCT}, f"watch <#{OUTSIDE}|x> {seed.TYPICAL} at 75%"),
    ({"default_product": PRODUCT}, f"WATCH {seed.TYPICAL} at 75% <#{OUTSIDE}|x>"),
    (
        {"licensespring_products": [PRODUCT, "acme-cli"]},
        f"watch {seed.TYPICAL} {PRODUCT} <#{OUTSIDE}>",
    ),
    (
        {"licensespring_products": [PRODUCT, "acme-cli"]},
        f"watch {PRODUCT} {seed.TYPICAL} <#{OUTSIDE}>",
    ),
]


@pytest.mark.parametrize(("settings", "text"), WATCH_SHAPES)
def test_a_watch_into_a_channel_outside_the_list_is_refused_in_every_shape(
    start_bot: BotFactory,
    sandbox: SandboxState,
    store_url: str,
    settings: dict[str, Any],
    text: str,
) -> None:
    bot = start_bot(database_url=store_url, allowed_channel_ids=[ALLOWED], **settings)
    ack, _ = bot.command(text, channel_id=ALLOWED)
    assert "may not be posted" in ack.json()["text"], text
    assert sandbox.lookups == 0
    assert watches_in(store_url) == []


def test_a_watch_typed_in_a_channel_outside_the_list_is_refused(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_channel_ids=[ALLOWED], default_product=PRODUCT)
    ack, _ = bot.command(f"watch {seed.TYPICAL}", channel_id=OUTSIDE)
    assert "may not be posted" in ack.json()["text"]
    assert watches_in(store_url) == []


def test_a_watch_into_an_allowed_channel_goes_ahead(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_channel_ids=[ALLOWED], default_product=PRODUCT)
    _, url = bot.command(f"watch {seed.TYPICAL} <#{ALLOWED}|ok> at 80%", channel_id=OUTSIDE)
    assert "Watching" in bot.final_response(url)["text"]
    [watch] = watches_in(store_url)
    assert watch.channel_id == ALLOWED


def test_a_private_lookup_is_not_a_visible_post(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_channel_ids=[ALLOWED])
    _, url = bot.command(f"{PRODUCT} {seed.TYPICAL}", channel_id=OUTSIDE)
    assert "Analytical" in json.dumps(bot.final_response(url))


# --- buttons that post visibly ---------------------------------------------------------------


def _state() -> str:
    return state_value(ListState(PRODUCT, seed.TYPICAL, 0))


@pytest.mark.parametrize("action", [ActionId.SHARE, ActionId.RETRY_THREAD])
def test_buttons_that_post_visibly_are_checked_against_the_channel_list(
    start_bot: BotFactory, sandbox: SandboxState, action: ActionId
) -> None:
    bot = start_bot(allowed_channel_ids=[ALLOWED])
    _, url = bot.press(action, _state(), channel_id=OUTSIDE)
    assert "may not be posted" in bot.final_response(url)["text"]
    assert sandbox.lookups == 0
    assert bot.slack.calls("chat.postMessage") == []


def test_escalation_goes_to_the_configured_channel_even_when_it_is_not_listed(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_channel_ids=[ALLOWED], escalation_channel_id="CESC")
    _, url = bot.press(ActionId.ESCALATE, _state(), channel_id=ALLOWED)
    assert "Escalated" in bot.final_response(url)["text"]
    assert bot.slack.calls("chat.postMessage")[0].args["channel"] == "CESC"


def test_a_thread_retry_in_an_allowed_channel_still_posts(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_channel_ids=[ALLOWED])
    _, url = bot.press(ActionId.RETRY_THREAD, _state(), channel_id=ALLOWED)
    answers = bot.slack.wait_for_responses(2, response_id=url.rsplit("/", 1)[1])
    assert answers[-1].body["response_type"] == "in_channel"


# --- every surface, with a user the lists refuse ----------------------------------------------

REFUSED = "UOUT"


def _refused_everywhere(bot: RunningBot) -> list[str]:
    """Send one request of each kind as REFUSED; what each answered."""
    said: list[str] = []
    for text in (f"{PRODUCT} {seed.TYPICAL}", f"watch {PRODUCT} {seed.TYPICAL}", "watches"):
        ack, _ = bot.command(text, user_id=REFUSED)
        said.append(ack.json()["text"])
    for action in (ActionId.PAGE_NEXT, ActionId.EXPORT, ActionId.SHARE, ActionId.WATCH):
        _, url = bot.press(action, _state(), user_id=REFUSED)
        said.append(bot.final_response(url)["text"])
    for action in (ActionId.SNOOZE, ActionId.UNWATCH):
        _, url = bot.press(action, "1", user_id=REFUSED)
        said.append(bot.final_response(url)["text"])
    bot.mention(f"{PRODUCT} {seed.TYPICAL}", user=REFUSED, event_id="EvRefused")
    said.append(bot.slack.wait_for_calls("chat.postEphemeral")[0].args["text"])
    return said


def test_every_surface_refuses_a_user_the_lists_refuse(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_user_ids=["U111"])
    for answer in _refused_everywhere(bot):
        assert "not allowed" in answer
    assert sandbox.lookups == 0
    assert bot.slack.calls("chat.postMessage") == []
    assert bot.slack.calls("views.open") == []


def _modal(callback_id: str, user: str = REFUSED) -> dict[str, Any]:
    """The form as the bot opens it (no product list: the product is a text input)."""
    origin = FormOrigin(user=user, origin="shortcut")
    if callback_id == CallbackId.WATCH_MODAL:
        return watch_modal([], None, origin)
    return lookup_modal([], None, origin)


def test_forms_from_a_refused_user_are_refused_in_the_modal(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_user_ids=["U111"])
    values = {PRODUCT_BLOCK: PRODUCT, EMAIL_BLOCK: seed.TYPICAL}
    for callback_id in (CallbackId.LOOKUP_MODAL, CallbackId.WATCH_MODAL):
        form = {**values, CHANNEL_BLOCK: ALLOWED, THRESHOLD_BLOCK: "80"}
        answer = bot.submit(_modal(callback_id), form, user_id=REFUSED).json()
        assert answer["response_action"] == "update"
        assert "not allowed" in json.dumps(answer["view"])
    assert sandbox.lookups == 0
    assert watches_in(store_url) == []


def test_a_watch_form_for_a_channel_outside_the_list_errs_under_the_picker(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_channel_ids=[ALLOWED])
    form = {PRODUCT_BLOCK: PRODUCT, EMAIL_BLOCK: seed.TYPICAL, CHANNEL_BLOCK: OUTSIDE}
    answer = bot.submit(_modal(CallbackId.WATCH_MODAL, "U111"), {**form, THRESHOLD_BLOCK: "80"})
    assert answer.json() == {
        "response_action": "errors",
        "errors": {
            CHANNEL_BLOCK: "Alerts may not be posted in that channel (ALLOWED_CHANNEL_IDS)."
            " Pick another one."
        },
    }
    assert watches_in(store_url) == []


# --- no listener without a policy --------------------------------------------------------------


def test_every_listener_of_the_app_carries_exactly_one_guard(sandbox_url: str) -> None:
    from unittest.mock import AsyncMock

    from slack_sdk.web.async_client import AsyncWebClient

    from tests.conftest import sandbox_settings

    settings: Settings = sandbox_settings(sandbox_url, slack_signing_secret="x")
    client = AsyncWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/")
    app = create_app(settings, licensespring=AsyncMock(), web_client=client)
    listeners = app._async_listeners
    assert len(listeners) >= 20
    for listener in listeners:
        guards = [m for m in listener.middleware if isinstance(m, Guard)]
        assert len(guards) == 1, listener.ack_function
