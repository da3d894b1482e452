"""`/license-users watch | watches | unwatch` and the alert buttons, through the real app."""

from __future__ import annotations

import asyncio
import json

from bot.demo.fake_slack import FakeSlack
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.store import Store, Watch
from tests.slack_harness import BotFactory


def watches_in(url: str) -> list[Watch]:
    async def read() -> list[Watch]:
        store = await Store.open(url)
        try:
            return await store.watches.all()
        finally:
            await store.close()

    return asyncio.run(read())


def test_watch_in_current_channel_then_list_then_unwatch(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url)
    ack, url = bot.command(f"watch acme-desktop {seed.TYPICAL}", channel_id="CWATCH")
    assert ack.status_code == 200
    answer = bot.final_response(url)["text"]
    assert "Watching" in answer
    assert "<#CWATCH>" in answer
    assert "90%" in answer
    [watch] = watches_in(store_url)
    assert (watch.product, watch.customer_email, watch.channel_id) == (
        "acme-desktop",
        seed.TYPICAL,
        "CWATCH",
    )
    assert watch.created_by == "U111"
    # The command's lookup is the baseline: the first change alerts even before any poll.
    assert watch.last_snapshot is not None and watch.snapshot_seq == 1

    _, url = bot.command("watches")
    listing = json.dumps(bot.final_response(url)["blocks"])
    assert f"*{watch.id}*" in listing
    assert "8 users, 52% of activations" in listing  # the headline: every license user

    _, url = bot.command(f"unwatch {watch.id}")
    assert "Stopped" in bot.final_response(url)["text"]
    assert watches_in(store_url) == []


def test_watch_elsewhere_with_threshold_and_unwatch_by_email(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url)
    _, url = bot.command(f"watch {seed.AT_LIMIT} acme-desktop <#COPS|ops> at 75%")
    assert "<#COPS>" in bot.final_response(url)["text"]
    [watch] = watches_in(store_url)
    assert watch.threshold_pct == 75
    _, url = bot.command(f"unwatch {seed.AT_LIMIT}", channel_id="COPS")
    assert "Stopped" in bot.final_response(url)["text"]


def test_watch_needs_the_bot_in_the_channel(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: FakeSlack, store_url: str
) -> None:
    bot = start_bot(database_url=store_url)
    fake_slack.set_channel("CNOTIN", is_member=False)
    _, url = bot.command(f"watch acme-desktop {seed.TYPICAL} <#CNOTIN>")
    assert "/invite" in bot.final_response(url)["text"]
    assert watches_in(store_url) == []


def test_watch_of_unknown_customer_is_refused(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url)
    _, url = bot.command("watch acme-desktop nobody@example.com")
    assert "No customer" in bot.final_response(url)["text"]
    assert watches_in(store_url) == []


def test_bad_watch_input_gets_precise_usage(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    for text, expected in [
        ("watch", "Say which customer"),
        (f"watch acme-desktop {seed.TYPICAL} at 300%", "not a percentage"),
        (f"watch acme-desktop {seed.TYPICAL} #general", "not a channel"),
        ("unwatch", "Give one watch id"),
        ("watches nope", "Form:"),
    ]:
        ack, _ = bot.command(text)
        assert expected in ack.json()["text"], text


def test_watch_into_a_disallowed_channel_is_refused(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_channel_ids=["COK"])
    ack, _ = bot.command(f"watch acme-desktop {seed.TYPICAL} <#CNO>")
    assert "may not be posted" in ack.json()["text"]
    assert sandbox.lookups == 0


def test_unwatch_unknown(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    _, url = bot.command("unwatch 999")
    assert "No watch 999" in bot.final_response(url)["text"]


def test_snooze_and_unwatch_buttons(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(database_url=store_url, allowed_user_ids=["U111"])
    bot.command(f"watch acme-desktop {seed.TYPICAL}")
    bot.slack.wait_for_responses(1)
    import time

    deadline = time.monotonic() + 5
    while not watches_in(store_url):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [watch] = watches_in(store_url)

    _, url = bot.press("alert_snooze", str(watch.id), user_id="UOUT")
    assert "not allowed" in bot.final_response(url)["text"]
    [unchanged] = watches_in(store_url)
    assert unchanged.snoozed_until is None

    _, url = bot.press("alert_snooze", str(watch.id))
    assert "snoozed until" in bot.final_response(url)["text"]
    [snoozed] = watches_in(store_url)
    assert snoozed.snoozed_until is not None

    _, url = bot.press("alert_unwatch", str(watch.id))
    assert "Stopped" in bot.final_response(url)["text"]
    assert watches_in(store_url) == []
    _, url = bot.press("alert_unwatch", str(watch.id))
    assert "no longer exists" in bot.final_response(url)["text"]
