"""`/license-users` end to end: signed HTTP in, ack, response_url out (real servers on loopback)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.demo.slack_requests import (
    SIGNING_SECRET,
    post_signed_sync,
    slash_command_body,
)
from bot.rendering.blocks import Message, check_limits, page_count, parse_button_value
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.slack_harness import BotFactory


def blocks_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("blocks", []), ensure_ascii=False)


def actions_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in body.get("blocks", []):
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        accessory = block.get("accessory")
        for element in [*elements, *([accessory] if accessory else [])]:
            if "action_id" in element:
                found[element["action_id"]] = element
    return found


def assert_within_limits(body: dict[str, Any]) -> None:
    message = Message(text=body.get("text", ""), blocks=body.get("blocks", []))
    assert check_limits(message) == []


def test_command_acks_then_answers_with_counts(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    ack, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    assert ack.status_code == 200
    assert "Looking up" in ack.json()["text"]
    assert ack.json()["response_type"] == "ephemeral"
    body = bot.final_response(response_url)
    assert body["response_type"] == "ephemeral"
    assert body["replace_original"] is True
    assert "8 users" in body["text"]
    assert "Analytical Engines Ltd" in blocks_text(body)
    assert_within_limits(body)
    assert {"share_summary"} <= set(actions_of(body))


@pytest.mark.parametrize(
    "text",
    [
        f"{seed.TYPICAL} acme-desktop",
        f"  acme-desktop   <mailto:{seed.TYPICAL}|{seed.TYPICAL}>  ",
        f"<mailto:{seed.TYPICAL}|{seed.TYPICAL}> acme-desktop",
    ],
)
def test_either_order_and_slack_escaped_email(
    start_bot: BotFactory, sandbox: SandboxState, text: str
) -> None:
    bot = start_bot()
    _, response_url = bot.command(text)
    assert "8 users" in bot.final_response(response_url)["text"]


def test_email_alone_uses_default_product(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(default_product="acme-desktop")
    _, response_url = bot.command(seed.AT_LIMIT)
    body = bot.final_response(response_url)
    assert "3 at limit" in body["text"]


def test_email_alone_looks_up_every_listed_product(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=["acme-desktop", "acme-cli", "acme-keyed"])
    ack, response_url = bot.command(seed.TYPICAL)
    assert "acme-cli" in ack.json()["text"]
    body = bot.final_response(response_url)
    text = blocks_text(body)
    assert "acme-desktop" in text
    assert "acme-cli" in text
    assert "not a user-based product" in text
    show = [a for a in actions_of(body) if a.startswith("show_users_")]
    assert len(show) == 2
    assert_within_limits(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Usage"),
        ("help", "Usage"),
        ("acme-desktop", "No customer e-mail"),
        ("acme-desktop not-an-email@", "not a valid e-mail"),
        ("acme desktop a@example.com", "Too many words before the customer e-mail"),
        ("acme-desktop a@example.com " + "x" * 101, "The search is 101 characters long"),
        ("nope a@example.com", "Unknown product"),
        ("a@example.com", "No product given"),
        ("a@example.com b@example.com", "No product given"),
    ],
)
def test_bad_input_gets_precise_usage_reply(
    start_bot: BotFactory, sandbox: SandboxState, text: str, expected: str
) -> None:
    products = ["acme-desktop", "acme-cli"] if text.startswith("nope") else []
    bot = start_bot(licensespring_products=products)
    ack, _ = bot.command(text)
    assert ack.status_code == 200
    assert ack.json()["response_type"] == "ephemeral"
    assert expected in ack.json()["text"]
    assert "/license-users" in ack.json()["text"]
    assert sandbox.lookups == 0


@pytest.mark.parametrize(
    ("product", "email", "expected", "reference"),
    [
        ("no-such", seed.TYPICAL, "has no product", False),
        ("acme-keyed", seed.TYPICAL, "not a user-based product", False),
        ("acme-desktop", "nobody@example.com", "No customer", False),
    ],
)
def test_error_codes_become_specific_replies(
    start_bot: BotFactory,
    sandbox: SandboxState,
    product: str,
    email: str,
    expected: str,
    reference: bool,
) -> None:
    bot = start_bot()
    _, response_url = bot.command(f"{product} {email}")
    body = bot.final_response(response_url)
    assert expected in body["text"]
    assert ("Reference" in blocks_text(body)) is reference


def test_unknown_product_names_known_products(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(licensespring_products=["acme-desktop", "gone-product"])
    _, response_url = bot.command(f"gone-product {seed.TYPICAL}")
    body = bot.final_response(response_url)
    assert "has no product" in body["text"]
    assert "acme-desktop" in body["text"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 500, "code": "internal_error", "message": "x"}, "did not answer"),
        ({"malformed": "html"}, "did not answer"),
        ({"status": 400, "code": "revoked_api_key", "message": "revoked"}, "revoked"),
        ({"status": 400, "code": "signature_mismatch", "message": "bad"}, "SHARED_KEY"),
    ],
)
def test_outages_say_retry_with_a_reference(
    start_bot: BotFactory, sandbox: SandboxState, fault: dict[str, Any], expected: str
) -> None:
    sandbox.set_fault(**fault)
    bot = start_bot(licensespring_max_retries=0)
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    body = bot.final_response(response_url)
    assert expected in body["text"]
    assert "Reference" in blocks_text(body)


def test_ack_within_3s_while_license_api_takes_10s(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(latency_ms=10_000)
    bot = start_bot(licensespring_read_timeout=1.0, licensespring_max_retries=0)
    started = time.monotonic()
    ack, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    ack_s = time.monotonic() - started
    assert ack.status_code == 200
    assert ack_s < 3.0  # Slack's deadline; the License API takes 10 s
    body = bot.final_response(response_url)
    assert "did not answer" in body["text"]
    sandbox.clear_faults()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Signature": "v0=" + "0" * 64},
        "tampered",
        "stale",
        "future",
    ],
)
def test_bad_signatures_are_401_and_nothing_runs(
    start_bot: BotFactory, sandbox: SandboxState, headers: Any
) -> None:
    bot = start_bot()
    response_url = bot.slack.new_response_url()
    body = slash_command_body(f"acme-desktop {seed.TYPICAL}", response_url=response_url)
    if headers == "tampered":
        from bot.demo.slack_requests import sign_body

        real = sign_body(body, secret=SIGNING_SECRET)
        response = bot.http.post(
            bot.events_url, content=body.replace("acme-desktop", "acme-cli"), headers=real
        )
    elif headers in ("stale", "future"):
        offset = -600 if headers == "stale" else 600
        response = post_signed_sync(
            bot.http, bot.events_url, body, timestamp=int(time.time()) + offset
        )
    else:
        response = bot.http.post(
            bot.events_url,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": str(int(time.time())),
                **headers,
            },
        )
    assert response.status_code == 401
    time.sleep(0.2)
    assert sandbox.lookups == 0
    assert bot.slack.responses() == []


def test_paging_through_5000_users(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    _, response_url = bot.command(f"acme-desktop {seed.BIG}")
    first = bot.final_response(response_url)
    assert_within_limits(first)
    assert "page_next" in actions_of(first)
    assert "page_prev" not in actions_of(first)
    seen_pages = 1
    value = actions_of(first)["page_next"]["value"]
    for _ in range(3):
        ack, next_url = bot.press("page_next", value)
        assert ack.status_code == 200
        page = bot.final_response(next_url)
        assert page["replace_original"] is True
        assert_within_limits(page)
        seen_pages += 1
        assert f"page {seen_pages} of" in blocks_text(page)
        value = actions_of(page)["page_next"]["value"]
    prev_value = actions_of(page)["page_prev"]["value"]
    assert parse_button_value(prev_value)[2] == seen_pages - 2
    assert sandbox.lookups == 1  # pages come from the cache


def test_every_page_of_5000_users_is_within_limits(sandbox: SandboxState) -> None:
    from bot.licensespring.models import parse_customer_license_users
    from bot.rendering.blocks import render_summary
    from bot.summary import summarise

    answer = parse_customer_license_users(sandbox.answer("acme-desktop", seed.BIG))
    summary = summarise("acme-desktop", answer)
    for page in range(page_count(summary)):
        message = render_summary(summary, lookup_email=seed.BIG, page=page)
        assert check_limits(message) == []


def test_mrkdwn_control_sequences_from_api_stay_inert(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    _, response_url = bot.command(f"acme-desktop {seed.MISCHIEF}")
    body = bot.final_response(response_url)
    dumped = json.dumps(body, ensure_ascii=False)
    for dangerous in ("<!channel>", "<!here>", "<@U", "<https://", "|click me>"):
        assert dangerous not in dumped
    assert "&lt;!channel&gt;" in dumped


def test_share_button_posts_summary_in_channel(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    _, response_url = bot.command(f"acme-desktop {seed.TYPICAL}")
    value = actions_of(bot.final_response(response_url))["share_summary"]["value"]
    ack, share_url = bot.press("share_summary", value, user_id="U222")
    assert ack.status_code == 200
    shared = bot.final_response(share_url)
    assert shared["response_type"] == "in_channel"
    assert shared.get("replace_original") is False
    assert "8 users" in shared["text"]
    assert "<@U222>" in blocks_text(shared)
    assert "page_next" not in actions_of(shared)
    assert "share_summary" not in actions_of(shared)
    assert_within_limits(shared)


def test_show_users_button_of_multi_product_reply(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=["acme-desktop", "acme-cli"])
    _, response_url = bot.command(seed.TYPICAL)
    buttons = actions_of(bot.final_response(response_url))
    ack, url = bot.press("show_users_1", buttons["show_users_1"]["value"])
    assert ack.status_code == 200
    body = bot.final_response(url)
    assert body.get("replace_original") is False
    assert "3 users" in body["text"]
    assert "acme-cli" in blocks_text(body)


def test_stale_button_value_gets_clear_reply(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot()
    ack, url = bot.press("page_next", "not-json")
    assert ack.status_code == 200
    assert "no longer valid" in bot.final_response(url)["text"]


def test_healthz(start_bot: BotFactory) -> None:
    bot = start_bot()
    assert bot.http.get(f"{bot.url}/healthz").status_code == 200


def test_oversized_and_non_utf8_bodies_rejected_early(start_bot: BotFactory) -> None:
    bot = start_bot()
    big = "text=" + "a" * 1_100_000
    assert post_signed_sync(bot.http, bot.events_url, big).status_code == 413
    response = bot.http.post(bot.events_url, content=b"\xff\xfe", headers={"Content-Type": "x"})
    assert response.status_code == 400


def test_answers_reuse_one_connection_to_slack(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    peers = []
    for email in (seed.TYPICAL, seed.EMPTY, seed.AT_LIMIT):
        _, url = bot.command(f"acme-desktop {email}")
        bot.final_response(url)
        rid = url.rsplit("/", 1)[1]
        peers.append(bot.slack.responses(rid)[-1].peer)
    assert peers[0]
    assert len(set(peers)) == 1, peers  # no new connection (and TLS handshake) per answer
