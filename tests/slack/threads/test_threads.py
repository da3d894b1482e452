"""Mentions, the message shortcut, escalation, event de-duplication, access control and audit:
the real app over loopback with the sandbox, the fake Slack and real stores."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bot.demo.fake_slack import FakeSlack
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.store import AuditEntry, Store
from tests.slack_harness import BotFactory


def posts(slack: FakeSlack, channel: str | None = None) -> list[Any]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if channel is None or c.args.get("channel") == channel
    ]


def audit_rows(url: str) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        store = await Store.open(url)
        try:
            return await store.audit_entries()
        finally:
            await store.close()

    return asyncio.run(read())


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def actions_in(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found[element["action_id"]] = element
    return found


# --- mentions -------------------------------------------------------------------------


def test_mention_in_thread_replies_in_that_thread(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    ack = bot.mention(f"acme-desktop {seed.TYPICAL}", thread_ts="1700000000.000001")
    assert ack.status_code == 200
    call = bot.slack.wait_for_calls("chat.postMessage")[0]
    assert call.args["channel"] == "C111"
    assert call.args["thread_ts"] == "1700000000.000001"
    assert "8 users" in call.args["text"]
    text = json.dumps(call.args["blocks"])
    assert "ada.lovelace@" not in text  # visible reply: summary only, list on request
    assert "show_users" in actions_in(call.args["blocks"])


def test_mention_outside_a_thread_starts_one(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(default_product="acme-desktop")
    bot.mention(seed.AT_LIMIT, ts="1700000300.000100")
    call = bot.slack.wait_for_calls("chat.postMessage")[0]
    assert call.args["thread_ts"] == "1700000300.000100"
    assert "3 at limit" in call.args["text"]


def test_mention_without_email_gets_usage_in_thread(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.mention("what's up?", thread_ts="1700000000.000002")
    call = bot.slack.wait_for_calls("chat.postMessage")[0]
    assert call.args["thread_ts"] == "1700000000.000002"
    assert "@License Users" in call.args["text"]
    assert sandbox.lookups == 0


def test_mention_where_bot_cannot_post_tells_the_user(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.slack.fail_next("chat.postMessage", error="not_in_channel")
    bot.mention(f"acme-desktop {seed.TYPICAL}")
    ephemeral = bot.slack.wait_for_calls("chat.postEphemeral")[0]
    assert ephemeral.args["user"] == "U111"
    assert "/invite" in ephemeral.args["text"]


def test_retried_event_is_processed_once_even_across_a_restart(
    start_bot: BotFactory, sandbox: SandboxState, tmp_path: Any
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first = start_bot(database_url=url)
    first.mention(f"acme-desktop {seed.TYPICAL}", event_id="EvSame")
    first.slack.wait_for_calls("chat.postMessage")
    assert (
        first.mention(f"acme-desktop {seed.TYPICAL}", event_id="EvSame", retry_num=1).status_code
        == 200
    )
    second = start_bot(database_url=url)  # another process, same store
    assert (
        second.mention(f"acme-desktop {seed.TYPICAL}", event_id="EvSame", retry_num=2).status_code
        == 200
    )
    time.sleep(0.3)
    assert len(posts(first.slack)) == 1
    assert sandbox.lookups == 1


# --- the message shortcut ----------------------------------------------------------------


def test_shortcut_with_default_product_posts_each_email_in_thread(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(default_product="acme-desktop")
    text = f"Escalation: <mailto:{seed.TYPICAL}|{seed.TYPICAL}> and {seed.AT_LIMIT} can't activate"
    ack, _ = bot.shortcut(text, thread_ts="1700000000.000009")
    assert ack.status_code == 200
    calls = bot.slack.wait_for_calls("chat.postMessage", 2)
    assert {c.args["thread_ts"] for c in calls} == {"1700000000.000009"}
    texts = " ".join(c.args["text"] for c in calls)
    assert "8 users" in texts
    assert "3 at limit" in texts


def test_shortcut_without_email_says_so(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(default_product="acme-desktop")
    _, response_url = bot.shortcut("no address here <@U123>")
    assert "No e-mail address" in bot.final_response(response_url)["text"]
    assert posts(bot.slack) == []


def test_shortcut_with_several_products_asks_which(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=["acme-desktop", "acme-cli"])
    bot.shortcut(f"about {seed.TYPICAL}", ts="1700000400.000100")
    opened = bot.slack.wait_for_calls("views.open")[0]
    view = opened.args["view"]
    options = view["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == ["acme-desktop", "acme-cli"]
    assert sandbox.lookups == 0
    submitted = bot.submit_view(view, product="acme-cli")
    assert submitted.status_code == 200
    call = bot.slack.wait_for_calls("chat.postMessage")[0]
    assert call.args["thread_ts"] == "1700000400.000100"
    assert "3 users" in call.args["text"]


def test_shortcut_where_bot_is_not_a_member_explains_how_to_invite(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(default_product="acme-desktop")
    bot.slack.set_channel("C111", is_member=False)
    _, response_url = bot.shortcut(f"about {seed.TYPICAL}")
    assert "/invite" in bot.final_response(response_url)["text"]


# --- escalation ---------------------------------------------------------------------------


def test_escalate_posts_summary_and_users_in_thread_and_links_back(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(escalation_channel_id="CESC")
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    reply = bot.final_response(response_url)
    button = actions_in(reply["blocks"])["escalate"]
    ack, escalate_url = bot.press("escalate", button["value"], user_id="U111")
    assert ack.status_code == 200
    answer = bot.final_response(escalate_url)
    assert "https://test.slack.com/archives/CESC/p" in answer["text"]
    escalation = posts(bot.slack, "CESC")
    head, thread = escalation[0], escalation[1:]
    assert "thread_ts" not in head.args or not head.args["thread_ts"]
    assert "Escalated by <@U111>" in json.dumps(head.args["blocks"])
    assert thread
    assert all(c.args["thread_ts"] == head.response["ts"] for c in thread)
    assert "ada.lovelace@analytical.example" in json.dumps(thread[0].args["blocks"])


def test_no_escalate_button_without_escalation_channel(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    assert "escalate" not in actions_in(bot.final_response(response_url)["blocks"])


# --- access control -------------------------------------------------------------------------


def test_refused_user_gets_refusal_and_no_upstream_request(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_user_ids=["UOK"])
    ack, _ = bot.command(f"acme-desktop {seed.TYPICAL}", user_id="UBAD")
    assert ack.status_code == 200
    assert "not allowed" in ack.json()["text"]
    bot.mention(f"acme-desktop {seed.TYPICAL}", user="UBAD")
    bot.slack.wait_for_calls("chat.postEphemeral")
    _, response_url = bot.shortcut(f"about {seed.TYPICAL}", user_id="UBAD")
    assert "not allowed" in bot.final_response(response_url)["text"]
    time.sleep(0.2)
    assert sandbox.lookups == 0
    assert posts(bot.slack) == []


def test_usergroup_members_are_allowed(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(allowed_usergroup_ids=["S1"])
    bot.slack.set_usergroup("S1", ["UGROUP"])
    ack, response_url = bot.command(f"acme-desktop {seed.TYPICAL}", user_id="UGROUP")
    assert "Looking up" in ack.json()["text"]
    assert "8 users" in bot.final_response(response_url)["text"]
    ack, _ = bot.command(f"acme-desktop {seed.TYPICAL}", user_id="UOTHER")
    assert "not allowed" in ack.json()["text"]
    assert len(bot.slack.calls("usergroups.users.list")) == 1  # cached


def test_button_replayed_by_outsider_is_refused(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_user_ids=["U111"])
    _, response_url = bot.command(f"acme-desktop {seed.BIG}")
    value = actions_in(bot.final_response(response_url)["blocks"])["page_next"]["value"]
    lookups = sandbox.lookups
    ack, url = bot.press("page_next", value, user_id="UOUT")
    assert ack.status_code == 200
    assert "not allowed" in bot.final_response(url)["text"]
    assert sandbox.lookups == lookups


def test_visible_posts_only_in_allowed_channels(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_channel_ids=["COK"])
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}", channel_id="CNO")
    reply = bot.final_response(response_url)  # private answers are fine anywhere
    value = actions_in(reply["blocks"])["share_summary"]["value"]
    _, share_url = bot.press("share_summary", value, channel_id="CNO")
    assert "may not be posted" in bot.final_response(share_url)["text"]
    bot.mention(f"acme-desktop {seed.TYPICAL}", channel="CNO")
    bot.slack.wait_for_calls("chat.postEphemeral")
    assert posts(bot.slack) == []


# --- audit on both stores -----------------------------------------------------------------


def test_audit_rows_for_each_action(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str
) -> None:
    bot = start_bot(
        database_url=store_url,
        escalation_channel_id="CESC",
        default_product="acme-desktop",
        allowed_user_ids=["U111"],
    )
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    buttons = actions_in(bot.final_response(response_url)["blocks"])
    _, share_url = bot.press("share_summary", buttons["share_summary"]["value"])
    bot.final_response(share_url)
    _, escalate_url = bot.press("escalate", buttons["escalate"]["value"])
    bot.final_response(escalate_url)
    bot.mention(seed.AT_LIMIT, event_id="EvAudit")
    bot.command(f"acme-desktop {seed.TYPICAL}", user_id="UBAD")

    def actions() -> list[str]:
        return [row.action for row in audit_rows(store_url)]

    wait_until(lambda: {"lookup", "share", "escalate", "thread_reply", "refused"} <= set(actions()))
    rows = audit_rows(store_url)
    refused = [r for r in rows if r.action == "refused"]
    assert refused[0].slack_user == "UBAD"
    assert refused[0].outcome == "user_not_allowed"
    lookup = next(r for r in rows if r.action == "lookup")
    assert lookup.product == "acme-desktop"
    assert lookup.customer_email == seed.TYPICAL
    assert lookup.outcome == "ok"
    assert lookup.reference
    assert all(r.at.tzinfo is not None for r in rows)
    dumped = repr(rows)
    assert "password" not in dumped.lower()


def test_control_sequences_stay_inert_in_thread_replies_and_escalations(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(escalation_channel_id="CESC")
    bot.mention(f"acme-desktop {seed.MISCHIEF}")
    _, response_url = bot.command(f"acme-desktop {seed.MISCHIEF}")
    buttons = actions_in(bot.final_response(response_url)["blocks"])
    _, escalate_url = bot.press("escalate", buttons["escalate"]["value"])
    bot.final_response(escalate_url)
    _, share_url = bot.press("share_summary", buttons["share_summary"]["value"])
    shared = bot.final_response(share_url)
    sent = json.dumps([c.args for c in bot.slack.calls("chat.postMessage")]) + json.dumps(shared)
    assert len(bot.slack.calls("chat.postMessage")) >= 3  # thread reply + escalation + its list
    for dangerous in ("<!channel>", "<!here>", "<@U123", "<https://evil"):
        assert dangerous not in sent
