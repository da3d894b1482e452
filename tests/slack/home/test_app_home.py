"""The App Home, the lookup and watch modals and the global shortcut, end to end.

Signed app_home_opened events, block_actions from the Home tab and from modals, shortcuts and
view_submission payloads go to the real bot over loopback; the fake Slack records what the
bot publishes, opens, updates and sends, and every view and message is checked against
slack-sdk's Block Kit models.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import pytest

from bot.demo.fake_slack import FakeSlack, SlackCall
from bot.rendering.ids import CallbackId
from bot.rendering.modals import (
    CHANNEL_BLOCK,
    EMAIL_BLOCK,
    PRODUCT_BLOCK,
    SEARCH_BLOCK,
    THRESHOLD_BLOCK,
)
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.slack.threads.test_threads import actions_in, audit_rows, wait_until
from tests.slack.watches.test_watching import watches_in
from tests.slack_harness import BotFactory, RunningBot
from tests.support.blockkit import assert_valid_blocks, assert_valid_view

PRODUCTS = ["acme-desktop", "acme-cli"]


def published(slack: FakeSlack, count: int = 1, timeout: float = 10) -> list[SlackCall]:
    calls = slack.wait_for_calls("views.publish", count, timeout=timeout)
    for call in calls:
        assert_valid_view(call.args["view"])
    return calls


def last_home(slack: FakeSlack, count: int = 1) -> dict[str, Any]:
    call = published(slack, count)[-1]
    view = call.response["view"]
    assert isinstance(view, dict)
    return view


def opened(slack: FakeSlack, count: int = 1) -> dict[str, Any]:
    call = slack.wait_for_calls("views.open", count, timeout=10)[-1]
    assert_valid_view(call.args["view"])
    view = call.response["view"]
    assert isinstance(view, dict)
    return view


def updated(slack: FakeSlack, count: int = 1) -> dict[str, Any]:
    call = slack.wait_for_calls("views.update", count, timeout=10)[-1]
    assert_valid_view(call.args["view"])
    view = call.args["view"]
    assert isinstance(view, dict)
    return view


def dms(slack: FakeSlack, count: int = 1) -> list[SlackCall]:
    calls = slack.wait_for_calls("chat.postMessage", count, timeout=10)
    for call in calls:
        assert_valid_blocks(call.args["blocks"])
    return calls


def home_buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found.append((element["action_id"], element["value"]))
    return found


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def ack_json(response: Any) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, dict)
    if body.get("response_action") == "update":
        assert_valid_view(body["view"])
    return body


def wait_for_watch(url: str, count: int = 1) -> None:
    wait_until(lambda: len(watches_in(url)) >= count, timeout=10)


# --- the Home tab -----------------------------------------------------------------------


def test_home_shows_recent_lookups_and_watches(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, licensespring_products=PRODUCTS)
    for text in (f"acme-desktop {seed.TYPICAL}", f"acme-cli {seed.AT_LIMIT}"):
        _, url = bot.command(text, channel_id="C111")
        bot.final_response(url)
    _, url = bot.command(f"watch acme-desktop {seed.BIG}", channel_id="CMINE")
    bot.final_response(url)
    # Someone else's watches: one in a channel U111 used the bot in, one elsewhere.
    _, url = bot.command(f"watch acme-cli {seed.TYPICAL}", channel_id="C111", user_id="U222")
    bot.final_response(url)
    _, url = bot.command(f"watch acme-desktop {seed.EMPTY}", channel_id="COTHER", user_id="U222")
    bot.final_response(url)
    wait_for_watch(store_url, 3)

    assert bot.open_home("U111").status_code == 200
    call = published(bot.slack)[0]
    assert call.args["user_id"] == "U111"
    view = call.args["view"]
    assert view["type"] == "home"
    text = text_of(view)
    actions = [action for action, _ in home_buttons(view)]
    assert actions[:2] == ["home_open_lookup", "home_open_watch"]
    assert actions.count("home_lookup_again") == 3  # two lookups and the watch's first lookup
    assert text.index(seed.BIG) < text.index(seed.AT_LIMIT) < text.index(seed.TYPICAL)
    assert "Watches (2)" in text
    assert "<#CMINE>" in text and "<#C111>" in text and "<#COTHER>" not in text
    assert actions.count("alert_snooze") == actions.count("alert_unwatch") == 2
    # The watch command's own lookup is each watch's first snapshot: its state shows at once.
    assert "% of activations" in text


def test_messages_tab_publishes_nothing(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    assert bot.open_home("U111", tab="messages").status_code == 200
    bot.open_home("U111")
    published(bot.slack, 1)
    time.sleep(0.3)
    assert len(bot.slack.calls("views.publish")) == 1


def test_look_up_again_answers_in_dm_and_refreshes_home(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS, escalation_channel_id="CESC")
    _, url = bot.command(f"acme-desktop {seed.TYPICAL}")
    bot.final_response(url)
    bot.open_home("U111")
    home = last_home(bot.slack)
    value = dict(home_buttons(home))["home_lookup_again"]
    lookups = sandbox.lookups

    assert bot.press_in_view("home_lookup_again", value, home).status_code == 200
    [dm] = dms(bot.slack)
    assert dm.args["channel"] == "D111"
    assert [c.args["users"] for c in bot.slack.calls("conversations.open")] == ["U111"]
    buttons = actions_in(dm.args["blocks"])
    assert {"share_summary", "escalate", "watch_open"} <= set(buttons)
    assert "8 users" in dm.args["text"]
    refreshed = published(bot.slack, 3)
    assert "Looking up" in text_of(refreshed[1].args["view"])
    assert "Sent the license users" in text_of(refreshed[2].args["view"])
    assert sandbox.lookups <= lookups + 1  # a cache hit or one request


def test_home_snooze_unwatch_and_a_stale_home(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url)
    _, url = bot.command(f"watch acme-desktop {seed.TYPICAL}", channel_id="C111")
    bot.final_response(url)
    wait_for_watch(store_url)
    bot.open_home()
    home = last_home(bot.slack)
    [watch] = watches_in(store_url)
    value = dict(home_buttons(home))["alert_snooze"]
    assert value == str(watch.id)

    bot.press_in_view("alert_snooze", value, home)
    assert "snoozed until" in text_of(last_home(bot.slack, 2))
    assert watches_in(store_url)[0].snoozed_until is not None

    bot.press_in_view("alert_unwatch", value, home)
    after = last_home(bot.slack, 3)
    assert "Stopped watch" in text_of(after)
    assert "Watches (0)" in text_of(after)
    assert watches_in(store_url) == []

    # The same, now stale, Home: the watch is gone; the page says so and refreshes.
    assert bot.press_in_view("alert_snooze", value, home).status_code == 200
    assert "no longer exists" in text_of(last_home(bot.slack, 4))
    assert bot.press_in_view("home_lookup_again", "not json", home).status_code == 200
    assert "out of date" in text_of(last_home(bot.slack, 5))
    rows = [r.action for r in audit_rows(store_url)]
    assert "snooze" in rows and "unwatch" in rows


# --- the lookup modal ---------------------------------------------------------------------


def test_lookup_modal_from_home_answers_in_dm(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(
        database_url=store_url, licensespring_products=PRODUCTS, default_product="acme-cli"
    )
    bot.open_home()
    home = last_home(bot.slack)
    bot.press_in_view("home_open_lookup", "lookup", home)
    modal = opened(bot.slack)
    product = next(b for b in modal["blocks"] if b["block_id"] == PRODUCT_BLOCK)["element"]
    assert [o["value"] for o in product["options"]] == PRODUCTS
    assert product["initial_option"]["value"] == "acme-cli"

    ack = ack_json(bot.submit(modal, {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL}))
    assert ack["response_action"] == "update"
    assert "Looking up" in text_of(ack["view"])
    [dm] = dms(bot.slack)
    assert dm.args["channel"] == "D111"
    assert "8 users" in dm.args["text"]
    assert "Sent the license users" in text_of(updated(bot.slack))
    update = bot.slack.calls("views.update")[0]
    assert update.args["view_id"] == modal["id"]
    home = last_home(bot.slack, 2)  # refreshed, with the new lookup on top
    assert seed.TYPICAL in text_of(home)
    lookup = next(r for r in audit_rows(store_url) if r.action == "lookup")
    assert (lookup.detail, lookup.slack_user, lookup.product) == ("modal", "U111", "acme-desktop")


def test_global_shortcut_opens_the_lookup_modal_and_carries_the_search(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    assert bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT).status_code == 200
    modal = opened(bot.slack)
    assert bot.slack.calls("views.open")[0].args["trigger_id"] == "123.456"
    ack = ack_json(
        bot.submit(
            modal,
            {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL, SEARCH_BLOCK: "babbage"},
        )
    )
    assert ack["response_action"] == "update"
    [dm] = dms(bot.slack)
    blocks = json.dumps(dm.args["blocks"], ensure_ascii=False)
    assert "1 of 8 users matches `babbage`" in blocks  # the search filters the list
    assert "charles.babbage@analytical.example" in blocks
    assert "ada.lovelace@analytical.example" not in blocks
    updated(bot.slack)
    time.sleep(0.2)
    assert bot.slack.calls("views.publish") == []  # not opened from the Home: no refresh


def test_lookup_modal_field_errors(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack)
    ack = ack_json(bot.submit(modal, {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: "ada@"}))
    assert ack["response_action"] == "errors"
    assert set(ack["errors"]) == {EMAIL_BLOCK}
    forged = ack_json(bot.submit(modal, {PRODUCT_BLOCK: "acme-server", EMAIL_BLOCK: "a@b.io"}))
    assert set(forged["errors"]) == {PRODUCT_BLOCK}
    assert "Unknown product" in forged["errors"][PRODUCT_BLOCK]
    time.sleep(0.2)
    assert sandbox.lookups == 0
    assert bot.slack.calls("chat.postMessage") == []


def test_unknown_product_typed_without_a_product_list(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(default_product="acme-desktop")
    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack)
    product = next(b for b in modal["blocks"] if b["block_id"] == PRODUCT_BLOCK)["element"]
    assert product["type"] == "plain_text_input"
    assert product["initial_value"] == "acme-desktop"
    ack = ack_json(bot.submit(modal, {PRODUCT_BLOCK: "acme-server", EMAIL_BLOCK: seed.TYPICAL}))
    assert ack["response_action"] == "update"
    back = updated(bot.slack)  # the form again, saying what was wrong, with what was typed
    assert "has no product" in text_of(back)
    assert back["callback_id"] == "lookup_modal"
    assert "acme-server" in json.dumps(back)
    assert bot.slack.calls("chat.postMessage") == []


def test_slow_licensespring_never_keeps_the_submit_spinning(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    sandbox.set_fault(latency_ms=3_500)
    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack)
    started = time.monotonic()
    response = bot.submit(modal, {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL})
    acked_in = time.monotonic() - started
    ack = ack_json(response)
    assert acked_in < 2.5, acked_in  # Slack gives 3 s; the lookup alone takes 3.5 s
    assert ack["response_action"] == "update"
    assert "Looking up" in text_of(ack["view"])
    [dm] = dms(bot.slack)
    assert "8 users" in dm.args["text"]
    assert "Sent the license users" in text_of(updated(bot.slack))


def test_dm_refused_by_slack_is_said_in_the_modal(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    bot.slack.fail_next("conversations.open", error="cannot_dm_bot")
    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack)
    ack_json(bot.submit(modal, {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL}))
    assert "cannot_dm_bot" in text_of(updated(bot.slack))


# --- the watch modal ----------------------------------------------------------------------


def test_watch_button_on_a_summary_opens_the_watch_modal(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, licensespring_products=PRODUCTS)
    _, url = bot.command(f"acme-desktop {seed.TYPICAL}", channel_id="CSUP")
    reply = bot.final_response(url)
    value = actions_in(reply["blocks"])["watch_open"]["value"]
    bot.press("watch_open", value, channel_id="CSUP")
    modal = opened(bot.slack)
    blocks = {b["block_id"]: b for b in modal["blocks"]}
    assert blocks[CHANNEL_BLOCK]["element"]["initial_conversation"] == "CSUP"
    assert blocks[EMAIL_BLOCK]["element"]["initial_value"] == seed.TYPICAL
    assert blocks[PRODUCT_BLOCK]["element"]["initial_option"]["value"] == "acme-desktop"
    assert blocks[THRESHOLD_BLOCK]["element"]["initial_value"] == "90"

    ack = ack_json(bot.submit(modal))
    assert ack["response_action"] == "update"
    assert "Setting up" in text_of(ack["view"])
    done = updated(bot.slack)
    assert "Watching" in text_of(done) and "<#CSUP>" in text_of(done)
    [watch] = watches_in(store_url)
    assert (watch.channel_id, watch.threshold_pct, watch.created_by) == ("CSUP", 90, "U111")
    assert any(r.action == "watch" for r in audit_rows(store_url))


def test_watch_modal_from_home_checks_membership_and_input(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: FakeSlack, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, licensespring_products=PRODUCTS)
    fake_slack.set_channel("CNOTIN", is_member=False)
    bot.open_home()
    bot.press_in_view("home_open_watch", "watch", last_home(bot.slack))
    modal = opened(bot.slack)
    picker = next(b for b in modal["blocks"] if b["block_id"] == CHANNEL_BLOCK)["element"]
    assert picker["default_to_current_conversation"] is True

    values = {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL}
    not_in = ack_json(bot.submit(modal, {**values, CHANNEL_BLOCK: "CNOTIN"}))
    assert not_in["response_action"] == "errors"
    assert "not a member" in not_in["errors"][CHANNEL_BLOCK]
    bad = ack_json(bot.submit(modal, {**values, CHANNEL_BLOCK: "COK", THRESHOLD_BLOCK: "150"}))
    assert set(bad["errors"]) == {THRESHOLD_BLOCK}
    nobody = ack_json(
        bot.submit(modal, {**values, CHANNEL_BLOCK: "COK", EMAIL_BLOCK: "nobody@example.com"})
    )
    assert nobody["response_action"] == "update"
    again = updated(bot.slack)  # the form again, with LicenseSpring's answer on top
    assert "No customer" in text_of(again) and again["callback_id"] == "watch_modal"
    assert "No customer" in text_of(last_home(bot.slack, 2))
    assert watches_in(store_url) == []

    ack_json(bot.submit(modal, {**values, CHANNEL_BLOCK: "COK", THRESHOLD_BLOCK: "75"}))
    assert "Watching" in text_of(updated(bot.slack, 2))
    [watch] = watches_in(store_url)
    assert (watch.channel_id, watch.threshold_pct) == ("COK", 75)
    # The Home refreshed after each attempt (the failed one was a lookup too).
    assert "Watches (1)" in text_of(last_home(bot.slack, 3))


def test_watch_modal_into_a_disallowed_channel(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_channel_ids=["COK"])
    bot.open_home()
    bot.press_in_view("home_open_watch", "watch", last_home(bot.slack))
    modal = opened(bot.slack)
    values = {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL, CHANNEL_BLOCK: "CNO"}
    ack = ack_json(bot.submit(modal, values))
    assert ack["response_action"] == "errors"
    assert "ALLOWED_CHANNEL_IDS" in ack["errors"][CHANNEL_BLOCK]
    assert watches_in(store_url) == []
    assert sandbox.lookups == 0


# --- access -------------------------------------------------------------------------------


@pytest.fixture
def refusing_bot(start_bot: BotFactory, store_url: str) -> RunningBot:
    return start_bot(
        database_url=store_url, allowed_user_ids=["U111"], licensespring_products=PRODUCTS
    )


def test_refused_user_sees_one_line_everywhere_and_nothing_runs(
    refusing_bot: RunningBot, sandbox: SandboxState, store_url: str
) -> None:
    bot = refusing_bot
    assert bot.open_home("UBAD").status_code == 200
    [call] = published(bot.slack)
    assert call.args["user_id"] == "UBAD"
    assert len(call.args["view"]["blocks"]) == 1
    assert "not allowed" in text_of(call.args["view"])
    assert "ALLOWED_USER_IDS" in text_of(call.args["view"])

    # An allowed person's Home and forms, pressed or submitted by the refused one.
    bot.open_home("U111")
    home = last_home(bot.slack, 2)
    value = dict(home_buttons(home))["home_open_lookup"]
    bot.press_in_view("home_open_lookup", value, home, user_id="UBAD")
    refused_home = published(bot.slack, 3)[-1]
    assert refused_home.args["user_id"] == "UBAD"
    assert len(refused_home.args["view"]["blocks"]) == 1

    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT, user_id="UBAD")
    refusal = opened(bot.slack)
    assert "not allowed" in text_of(refusal)
    assert refusal["callback_id"] == "license_users_notice"

    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack, 2)
    values = {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL}
    ack = ack_json(bot.submit(modal, values, user_id="UBAD"))
    assert ack["response_action"] == "update"
    assert "not allowed" in text_of(ack["view"])

    time.sleep(0.3)
    assert sandbox.lookups == 0
    assert bot.slack.calls("chat.postMessage") == []
    wait_until(lambda: sum(r.action == "refused" for r in audit_rows(store_url)) >= 4)


def test_submission_replayed_by_another_user(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, licensespring_products=PRODUCTS)
    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack)
    values = {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL}
    ack = ack_json(bot.submit(modal, values, user_id="U222"))
    assert ack["response_action"] == "update"
    assert "opened by someone else" in text_of(ack["view"])
    metadata_free = {**modal, "private_metadata": "not json"}
    ack = ack_json(bot.submit(metadata_free, values))
    assert "opened by someone else" in text_of(ack["view"])
    time.sleep(0.2)
    assert sandbox.lookups == 0
    assert bot.slack.calls("chat.postMessage") == []
    wait_until(lambda: any(r.outcome == "not_their_form" for r in audit_rows(store_url)))


def test_malformed_submissions_get_a_local_answer(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    from bot.demo.slack_requests import post_signed_sync

    bot = start_bot(licensespring_products=PRODUCTS)
    bot.global_shortcut(CallbackId.GLOBAL_SHORTCUT)
    modal = opened(bot.slack)
    for values in (
        [],
        {EMAIL_BLOCK: {"email": {"value": 5}}},
        {PRODUCT_BLOCK: {"product": {"selected_option": "acme-desktop"}}, EMAIL_BLOCK: None},
        {PRODUCT_BLOCK: [1], EMAIL_BLOCK: {"email": []}},
    ):
        payload = {
            "type": "view_submission",
            "team": {"id": "T1", "domain": "test"},
            "user": {"id": "U111", "team_id": "T1"},
            "api_app_id": "A111",
            "view": {**modal, "state": {"values": values}},
        }
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        response = post_signed_sync(bot.http, bot.events_url, body)
        assert response.status_code == 200
        assert response.json()["response_action"] == "errors"
    assert sandbox.lookups == 0


def test_builder_link_for_a_home_with_lookups_and_watches(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    from bot.demo.terminal import block_kit_builder_view_url

    bot = start_bot(database_url=store_url, licensespring_products=PRODUCTS)
    for text in (f"acme-desktop {seed.TYPICAL}", f"acme-cli {seed.AT_LIMIT}"):
        _, url = bot.command(text)
        bot.final_response(url)
    _, url = bot.command(f"watch acme-desktop {seed.BIG} at 80%", channel_id="CSUPPORT")
    bot.final_response(url)
    wait_for_watch(store_url)
    bot.open_home()
    view = published(bot.slack)[0].args["view"]
    link = block_kit_builder_view_url(view)
    assert link.startswith("https://app.slack.com/block-kit-builder#")
    decoded = json.loads(urllib.parse.unquote(link.split("#", 1)[1]))
    assert decoded == {"type": "home", "blocks": view["blocks"]}
    print(f"\nApp Home in Block Kit Builder:\n{link}")


def test_slow_channel_check_moves_after_the_ack(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: FakeSlack, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, licensespring_products=PRODUCTS)
    fake_slack.set_channel("CSLOW", is_member=False)
    bot.open_home()
    bot.press_in_view("home_open_watch", "watch", last_home(bot.slack))
    modal = opened(bot.slack)

    def slow_info(call: SlackCall) -> dict[str, Any]:
        time.sleep(2.0)  # longer than the bot's budget for checking before the ack
        channel = {"id": call.args["channel"], "is_member": False, "is_archived": False}
        return {"ok": True, "channel": channel}

    fake_slack.set_answer("conversations.info", slow_info)
    values = {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL, CHANNEL_BLOCK: "CSLOW"}
    started = time.monotonic()
    ack = ack_json(bot.submit(modal, values))
    assert time.monotonic() - started < 2.9
    assert ack["response_action"] == "update"
    again = updated(bot.slack)  # checked after the ack: the form again, saying why
    assert "not a member" in text_of(again) and again["callback_id"] == "watch_modal"
    assert watches_in(store_url) == []
    assert sandbox.lookups == 0
