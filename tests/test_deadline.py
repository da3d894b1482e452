"""One deadline for every lookup a person waits for, whatever LicenseSpring does.

Each upstream behaviour (a hang, a slow drip, repeated 5xx, 429 with a long Retry-After) is
produced by the sandbox as a real server; each test measures the time from the request to the
failure reply, which carries a reference and a "Try again" button that runs the lookup again.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.config import Settings
from bot.demo.slack_requests import block_action_body, post_signed_sync
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.errors import LicenseApiError
from bot.rendering.blocks import button_value
from bot.rendering.ids import ActionId
from bot.sandbox import seed
from bot.sandbox.app import LOOKUP_PATH, SandboxState
from tests.conftest import SettingsFactory
from tests.slack_harness import BotFactory

PRODUCT = "acme-desktop"
HANG = {"latency_ms": 120_000}  # accepts the connection, never answers in time
UPSTREAM_BEHAVIOURS = {
    "hang": HANG,
    "slow drip": {"drip_ms": 400},  # each read is quick; the whole answer takes minutes
    "repeated 5xx": {"status": 503, "code": "service_unavailable", "message": "x"},
    "429 with a long Retry-After": {
        "status": 429,
        "code": "too_many_requests",
        "message": "x",
        "retry_after": 19,
    },
}
# Generous retry settings: without a deadline they would keep a person waiting a minute.
PATIENT = {"licensespring_max_retries": 20, "licensespring_read_timeout": 10.0}
MARGIN_S = 1.5  # delivery of the reply on a loaded CI machine


@pytest.mark.parametrize("fault", UPSTREAM_BEHAVIOURS.values(), ids=UPSTREAM_BEHAVIOURS.keys())
async def test_the_client_gives_up_at_the_callers_deadline(
    make_settings: SettingsFactory, sandbox: SandboxState, fault: dict[str, Any]
) -> None:
    sandbox.set_fault(**fault)
    settings: Settings = make_settings(**PATIENT)
    async with LicenseApiClient.from_settings(settings) as client:
        started = time.monotonic()
        with pytest.raises(LicenseApiError) as caught:
            await client.lookup(PRODUCT, seed.TYPICAL, deadline_s=1.5)
        elapsed = time.monotonic() - started
    assert caught.value.transient
    assert elapsed <= 1.5 + 0.5, f"gave up after {elapsed:.2f} s"


def _retry_button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {json.dumps(blocks)[:500]}")


def test_a_hung_license_api_gets_a_failure_reply_within_12_s_of_the_command(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    """The default deadline, timed: a hang must not mean half a minute of silence."""
    bot = start_bot(**PATIENT)
    sandbox.set_fault(**HANG)
    started = time.monotonic()
    _, url = bot.command(f"{PRODUCT} {seed.TYPICAL}")
    responses = bot.slack.wait_for_responses(1, response_id=url.rsplit("/", 1)[1], timeout=25)
    elapsed = time.monotonic() - started
    reply = responses[-1].body
    assert elapsed <= 12.0 + 0.3, f"the failure reply came {elapsed:.2f} s after the command"
    assert elapsed >= 10.0, "the lookup gave up long before its deadline"
    text = json.dumps(reply)
    assert "did not answer" in text
    assert "Reference:" in text
    assert _retry_button(reply["blocks"], ActionId.RETRY)["text"]["text"] == "Try again"


@pytest.mark.parametrize("fault", UPSTREAM_BEHAVIOURS.values(), ids=UPSTREAM_BEHAVIOURS.keys())
def test_every_upstream_failure_mode_answers_the_command_by_the_deadline(
    start_bot: BotFactory, sandbox: SandboxState, fault: dict[str, Any]
) -> None:
    bot = start_bot(lookup_deadline=2.0, **PATIENT)
    sandbox.set_fault(**fault)
    started = time.monotonic()
    _, url = bot.command(f"{PRODUCT} {seed.TYPICAL}")
    reply = bot.slack.wait_for_responses(1, response_id=url.rsplit("/", 1)[1], timeout=15)[-1]
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0 + MARGIN_S, f"the failure reply came {elapsed:.2f} s after the command"
    assert "Reference:" in json.dumps(reply.body)
    _retry_button(reply.body["blocks"], ActionId.RETRY)


def test_try_again_runs_the_same_lookup_in_place(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(lookup_deadline=1.0, **PATIENT)
    sandbox.set_fault(**HANG)
    _, url = bot.command(f"{PRODUCT} {seed.TYPICAL}")
    failed = bot.final_response(url)
    button = _retry_button(failed["blocks"], ActionId.RETRY)
    assert button["value"] == button_value(PRODUCT, seed.TYPICAL, 0)
    sandbox.clear_faults()
    _, again = bot.press(ActionId.RETRY, button["value"])
    replies = bot.slack.wait_for_responses(2, response_id=again.rsplit("/", 1)[1], timeout=10)
    looking, answer = (reply.body for reply in replies)
    assert looking["replace_original"] is True and "again" in looking["text"]
    assert answer["replace_original"] is True
    assert answer["response_type"] == "ephemeral"
    assert "Ada Lovelace" in json.dumps(answer["blocks"])
    assert "Users" in json.dumps(answer["blocks"])


def test_try_again_is_access_checked(start_bot: BotFactory, sandbox: SandboxState) -> None:
    bot = start_bot(allowed_user_ids=["U111"])
    before = sandbox.stats()["requests"].get(LOOKUP_PATH, 0)
    _, url = bot.press(ActionId.RETRY, button_value(PRODUCT, seed.TYPICAL, 0), user_id="UOUTSIDER")
    refusal = bot.final_response(url)
    assert "not allowed" in json.dumps(refusal).lower() or "access" in json.dumps(refusal).lower()
    assert sandbox.stats()["requests"].get(LOOKUP_PATH, 0) == before


def test_a_mention_in_a_thread_fails_visibly_by_the_deadline_and_retries_in_place(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(lookup_deadline=2.0, **PATIENT)
    sandbox.set_fault(**HANG)
    started = time.monotonic()
    bot.mention(f"{PRODUCT} {seed.TYPICAL}", event_id=f"Ev{time.monotonic_ns()}")
    post = bot.slack.wait_for_calls("chat.postMessage", timeout=15)[-1]
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0 + MARGIN_S, f"the thread reply came {elapsed:.2f} s after the mention"
    assert "Reference:" in json.dumps(post.args["blocks"])
    button = _retry_button(post.args["blocks"], ActionId.RETRY_THREAD)
    sandbox.clear_faults()
    response_url = bot.slack.new_response_url()
    body = block_action_body(
        ActionId.RETRY_THREAD,
        button["value"],
        response_url=response_url,
        blocks=post.args["blocks"],
        message_ts=post.response["ts"],
    )
    post_signed_sync(bot.http, bot.events_url, body)
    answers = bot.slack.wait_for_responses(2, response_id=response_url.rsplit("/", 1)[1])
    answer = answers[-1].body
    assert answer["replace_original"] is True
    assert answer["response_type"] == "in_channel"
    assert "Ada Lovelace" in json.dumps(answer["blocks"])


def test_a_page_button_fails_by_the_deadline_with_try_again(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(lookup_deadline=2.0, licensespring_cache_ttl=0, **PATIENT)
    sandbox.set_fault(**HANG)
    started = time.monotonic()
    _, url = bot.press("page_next", button_value(PRODUCT, seed.TYPICAL, 1))
    reply = bot.final_response(url)
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0 + MARGIN_S
    assert _retry_button(reply["blocks"], ActionId.RETRY)["value"] == button_value(
        PRODUCT, seed.TYPICAL, 1
    )
