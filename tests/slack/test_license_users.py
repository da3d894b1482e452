"""A license user's e-mail on the Slack surfaces, end to end over loopback: the slash command,
the message shortcut, a mention, the several-customers choice and its button."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bot.alert_rules import Snapshot
from bot.rendering.modals import EMAIL_BLOCK, PRODUCT_BLOCK
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.slack.core.errors import STALE_BUTTON_TEXT
from tests.slack.home.test_app_home import dms, home_buttons, last_home, opened
from tests.slack.watches.test_watching import watches_in
from tests.slack_harness import BotFactory
from tests.support.blockkit import assert_valid_blocks

HEADER = (
    ":bust_in_silhouette: `jane@acme.example` is a license user of *Acme Ltd* "
    "(`buyer@acme.example`)"
)


def management(sandbox_url: str) -> dict[str, Any]:
    return {
        "licensespring_management_api_url": sandbox_url,
        "licensespring_management_api_key": seed.SANDBOX_MANAGEMENT_API_KEY,
    }


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_slash_command_with_a_license_users_email(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    ack, response_url = bot.command(f"acme-desktop {seed.LICENSE_USER}")
    assert ack.status_code == 200
    body = bot.final_response(response_url)
    assert_valid_blocks(body["blocks"])
    assert body["blocks"][0]["text"]["text"] == HEADER
    shown = text_of(body["blocks"])
    assert "Acme Ltd" in shown
    assert "Seats: 3 / 5" in shown
    assert "jane@acme.example" in shown and "raj@acme.example" not in shown  # narrowed
    assert body["text"].startswith(HEADER)
    # Paging and the other buttons are about the customer, narrowed to the user.
    values = [
        element.get("value", "")
        for block in body["blocks"]
        for element in [*block.get("elements", []), block.get("accessory") or {}]
        if isinstance(element, dict)
    ]
    assert any(seed.ACME in value for value in values)


def test_message_shortcut_with_a_license_users_email_replies_in_the_thread(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(default_product="acme-desktop", **management(sandbox_url))
    message = f"Hi, I'm <mailto:{seed.LICENSE_USER}|{seed.LICENSE_USER}> and I can't activate"
    ack, _ = bot.shortcut(message, thread_ts="1700000000.000019")
    assert ack.status_code == 200
    call = bot.slack.wait_for_calls("chat.postMessage")[0]
    assert call.args["thread_ts"] == "1700000000.000019"
    blocks = call.args["blocks"]
    assert_valid_blocks(blocks)
    assert blocks[0]["text"]["text"] == HEADER
    assert "Acme Ltd" in call.args["text"]


def test_mention_with_a_license_users_email(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    bot.mention(f"acme-desktop {seed.LICENSE_USER}", thread_ts="1700000000.000029")
    call = bot.slack.wait_for_calls("chat.postMessage")[0]
    assert call.args["blocks"][0]["text"]["text"] == HEADER


def test_several_customers_are_a_choice_and_the_button_opens_one(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    _, response_url = bot.command(f"acme-desktop {seed.SHARED_USER}")
    body = bot.final_response(response_url)
    assert_valid_blocks(body["blocks"])
    assert "is a license user of 2 customers" in body["blocks"][0]["text"]["text"]
    buttons = [b["accessory"] for b in body["blocks"] if "accessory" in b]
    assert [b["action_id"] for b in buttons] == ["choose_customer_0", "choose_customer_1"]
    _, pressed_url = bot.press(buttons[1]["action_id"], buttons[1]["value"])
    chosen = bot.final_response(pressed_url)
    assert_valid_blocks(chosen["blocks"])
    assert chosen["blocks"][0]["text"]["text"] == (
        ":bust_in_silhouette: `pat.consultant@example.org` is a license user of "
        "*Globex Corporation* (`it@globex.example`)"
    )
    assert "homer@globex.example" not in text_of(chosen["blocks"])


def test_a_stale_choice_button_is_a_short_reply(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    ack, response_url = bot.press("choose_customer_0", "not a state value")
    assert ack.status_code == 200
    body = bot.final_response(response_url)
    assert body["text"] == STALE_BUTTON_TEXT


def test_no_such_customer_and_not_a_license_user_either(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    _, response_url = bot.command("acme-desktop nobody@nowhere.example")
    body = bot.final_response(response_url)
    assert "`nobody@nowhere.example` is not a license user either." in body["text"]


def test_without_a_key_the_reply_says_what_the_key_would_do(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    _, response_url = bot.command(f"acme-desktop {seed.LICENSE_USER}")
    body = bot.final_response(response_url)
    assert "LICENSESPRING_MANAGEMENT_API_KEY" in body["text"]
    assert sandbox.management.requests == 0


def test_a_hung_management_api_never_holds_the_summary_back(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    sandbox.management.set_fault(latency_ms=30_000)
    bot = start_bot(**management(sandbox_url))
    started = time.monotonic()
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    body = bot.final_response(response_url)
    elapsed = time.monotonic() - started
    assert "8 users" in body["text"]
    assert "Seats could not be read" in text_of(body["blocks"])
    assert elapsed < 4.0


def test_a_watch_given_a_license_users_email_watches_the_customer_and_says_so(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    bot = start_bot(database_url=url, **management(sandbox_url))
    _, response_url = bot.command(f"watch acme-desktop {seed.LICENSE_USER}", channel_id="CW")
    answer = bot.final_response(response_url)["text"]
    assert answer.startswith(HEADER + ": watching the customer.")
    assert f"Watching `{seed.ACME}`" in answer
    [watch] = watches_in(url)
    assert watch.customer_email == seed.ACME
    baseline = Snapshot.from_json(watch.last_snapshot)
    assert baseline is not None and baseline.seat_licenses is not None


def test_a_watch_given_a_user_of_several_customers_names_them(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    bot = start_bot(database_url=url, **management(sandbox_url))
    _, response_url = bot.command(f"watch acme-desktop {seed.SHARED_USER}", channel_id="CW")
    answer = bot.final_response(response_url)["text"]
    assert "is a license user of 2 customers" in answer
    assert watches_in(url) == []


def test_app_home_look_up_again_with_a_license_users_email(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    _, url = bot.command(f"acme-desktop {seed.LICENSE_USER}")
    bot.final_response(url)
    bot.open_home("U111")
    home = last_home(bot.slack)
    value = dict(home_buttons(home))["home_lookup_again"]
    assert bot.press_in_view("home_lookup_again", value, home).status_code == 200
    [dm] = dms(bot.slack)
    assert dm.args["blocks"][0]["text"]["text"] == HEADER


def test_a_customer_choice_pressed_by_an_outsider_is_refused(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(allowed_user_ids=["U111"], **management(sandbox_url))
    _, response_url = bot.command(f"acme-desktop {seed.SHARED_USER}")
    buttons = [
        b["accessory"] for b in bot.final_response(response_url)["blocks"] if "accessory" in b
    ]
    lookups = sandbox.lookups
    ack, url = bot.press(buttons[0]["action_id"], buttons[0]["value"], user_id="UOUT")
    assert ack.status_code == 200
    assert "not allowed" in bot.final_response(url)["text"]
    assert sandbox.lookups == lookups


def test_the_lookup_modal_with_a_license_users_email(
    start_bot: BotFactory, sandbox: SandboxState, sandbox_url: str
) -> None:
    bot = start_bot(**management(sandbox_url))
    bot.open_home()
    bot.press_in_view("home_open_lookup", "lookup", last_home(bot.slack))
    modal = opened(bot.slack)
    bot.submit(modal, {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.LICENSE_USER})
    [dm] = dms(bot.slack)
    assert dm.args["blocks"][0]["text"]["text"] == HEADER
