"""Who may change a watch: its creator or a member of its channel; anyone else is told whose it
is, and nothing changes. Over the real app, with the fake Slack's `conversations.members`."""

from __future__ import annotations

import json

import pytest

from bot.demo.fake_slack import FakeSlack
from bot.rendering.ids import ActionId
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.slack.threads.test_threads import audit_rows
from tests.slack.watches.test_watching import watches_in
from tests.slack_harness import BotFactory, RunningBot

CREATOR, MEMBER, STRANGER = "U111", "UMEMBER", "USTRANGER"
CHANNEL = "CWATCHED"


def _watch(bot: RunningBot, store_url: str) -> int:
    _, url = bot.command(f"watch acme-desktop {seed.TYPICAL}", channel_id=CHANNEL)
    assert "Watching" in bot.final_response(url)["text"]
    [watch] = watches_in(store_url)
    return watch.id


@pytest.fixture
def members(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.set_channel(CHANNEL, members=(CREATOR, MEMBER))
    return fake_slack


def test_unwatch_by_id_from_elsewhere_by_a_stranger_changes_nothing(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, members: FakeSlack
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    _, url = bot.command(f"unwatch {watch_id}", channel_id="COTHER", user_id=STRANGER)
    text = bot.final_response(url)["text"]
    assert f"Watch {watch_id} belongs to <@{CREATOR}> in <#{CHANNEL}>" in text
    assert "Stopped" not in text
    assert [w.id for w in watches_in(store_url)] == [watch_id]
    refused = [r for r in audit_rows(store_url) if r.outcome == "not_theirs"]
    assert [(r.slack_user, r.action) for r in refused] == [(STRANGER, "unwatch")]


def test_a_member_of_the_watchs_channel_may_remove_it_and_is_audited(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, members: FakeSlack
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    _, url = bot.command(f"unwatch #{watch_id}", channel_id="COTHER", user_id=MEMBER)
    assert "Stopped" in bot.final_response(url)["text"]
    assert watches_in(store_url) == []
    [removed] = [r for r in audit_rows(store_url) if r.action == "unwatch"]
    assert removed.slack_user == MEMBER and removed.outcome == "removed"
    assert f"by {MEMBER}" in (removed.detail or "")


@pytest.mark.parametrize("action", [ActionId.SNOOZE, ActionId.UNWATCH])
def test_alert_buttons_from_a_stranger_change_nothing(
    start_bot: BotFactory,
    sandbox: SandboxState,
    store_url: str,
    members: FakeSlack,
    action: ActionId,
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    _, url = bot.press(action, str(watch_id), user_id=STRANGER, channel_id=CHANNEL)
    assert "belongs to" in bot.final_response(url)["text"]
    [unchanged] = watches_in(store_url)
    assert unchanged.snoozed_until is None


def test_alert_buttons_from_a_member_work(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, members: FakeSlack
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    _, url = bot.press(ActionId.SNOOZE, str(watch_id), user_id=MEMBER, channel_id=CHANNEL)
    assert "snoozed until" in bot.final_response(url)["text"]
    _, url = bot.press(ActionId.UNWATCH, str(watch_id), user_id=MEMBER, channel_id=CHANNEL)
    assert "Stopped watching" in bot.final_response(url)["text"]
    assert watches_in(store_url) == []


def test_the_members_of_a_channel_are_read_once_a_minute(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, members: FakeSlack
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    for _ in range(3):
        _, url = bot.press(ActionId.SNOOZE, str(watch_id), user_id=STRANGER)
        bot.final_response(url)
    assert len(bot.slack.calls("conversations.members")) == 1


def test_listing_a_channels_watches_needs_its_membership(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, members: FakeSlack
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    _, url = bot.command(f"watches <#{CHANNEL}|watched>", user_id=STRANGER)
    text = json.dumps(bot.final_response(url))
    assert "not in <#CWATCHED>" in text and f"*{watch_id}*" not in text
    _, url = bot.command("watches", user_id=STRANGER)
    text = json.dumps(bot.final_response(url))
    assert f"*{watch_id}*" not in text and "1 watch is in channels you are not in" in text
    _, url = bot.command(f"watches <#{CHANNEL}|watched>", user_id=MEMBER)
    assert f"*{watch_id}*" in json.dumps(bot.final_response(url))


def test_a_watch_whose_channel_slack_will_not_list_is_its_creators_alone(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, fake_slack: FakeSlack
) -> None:
    bot = start_bot(database_url=store_url)
    watch_id = _watch(bot, store_url)
    fake_slack.fail_next("conversations.members", error="internal_error")
    _, url = bot.press(ActionId.UNWATCH, str(watch_id), user_id=MEMBER)
    assert "belongs to" in bot.final_response(url)["text"]
    _, url = bot.press(ActionId.UNWATCH, str(watch_id))  # the creator
    assert "Stopped watching" in bot.final_response(url)["text"]
