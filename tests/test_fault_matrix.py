"""The fault matrix: every fault we can produce here, on every surface, has a graceful outcome.

Each row is one fault; each surface runs it through the real app over loopback with the
sandbox and the fake Slack as real servers. For every cell: the user (or channel) gets a clear
outcome, retries stay within their bound, no listener task is left behind and the process
keeps serving. A new fault is one line in a table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.demo.fake_slack import FakeSlack
from bot.sandbox import seed
from bot.sandbox.app import LOOKUP_PATH, SandboxState
from tests.slack_harness import BotFactory, RunningBot

MAX_RETRIES = 1


@dataclass(frozen=True)
class LicenseFault:
    name: str
    fault: dict[str, Any]
    expected: str  # in what the user is told
    settings: dict[str, Any] = field(default_factory=dict)


RETRY_LATER = "did not answer"
LICENSE_FAULTS = [
    LicenseFault(
        "latency past the timeout",
        {"latency_ms": 1500},
        RETRY_LATER,
        {"licensespring_read_timeout": 0.3},
    ),
    LicenseFault("500", {"status": 500, "code": "internal_error", "message": "x"}, RETRY_LATER),
    LicenseFault(
        "503 with Retry-After",
        {"status": 503, "code": "internal_error", "message": "x", "retry_after": 1},
        RETRY_LATER,
    ),
    LicenseFault(
        "429",
        {"status": 429, "code": "too_many_requests", "message": "x", "retry_after": 1},
        RETRY_LATER,
    ),
    LicenseFault("connection reset", {"drop_connection": True}, RETRY_LATER),
    LicenseFault("malformed JSON", {"malformed": "json"}, RETRY_LATER),
    LicenseFault("HTML error page", {"malformed": "html"}, RETRY_LATER),
    LicenseFault("wrong content type", {"malformed": "wrong_type"}, RETRY_LATER),
    LicenseFault("empty body", {"malformed": "empty"}, RETRY_LATER),
    LicenseFault(
        "revoked key", {"status": 400, "code": "revoked_api_key", "message": "x"}, "revoked"
    ),
]


def _run_command(bot: RunningBot, email: str) -> str:
    _, url = bot.command(f"acme-desktop {email}")
    return json.dumps(bot.final_response(url))


def _run_mention(bot: RunningBot, email: str) -> str:
    bot.mention(f"acme-desktop {email}", event_id=f"Ev{time.monotonic_ns()}")
    call = bot.slack.wait_for_calls("chat.postMessage", timeout=10)[-1]
    return json.dumps(call.args)


def _run_button(bot: RunningBot, email: str) -> str:
    from bot.rendering.blocks import button_value

    _, url = bot.press("page_next", button_value("acme-desktop", email, 1))
    return json.dumps(bot.final_response(url))


SURFACES: dict[str, Callable[[RunningBot, str], str]] = {
    "command": _run_command,
    "mention": _run_mention,
    "button": _run_button,
}


def assert_still_serving(bot: RunningBot, sandbox: SandboxState) -> None:
    runtime = bot.server.state.runtime
    deadline = time.monotonic() + 10
    while len(runtime.tasks):
        assert time.monotonic() < deadline, "listener tasks left behind"
        time.sleep(0.02)
    sandbox.clear_faults()
    assert bot.http.get(f"{bot.url}/healthz").status_code == 200
    assert "users" in _run_command(bot, seed.EMPTY)


@pytest.mark.parametrize("surface", sorted(SURFACES))
@pytest.mark.parametrize("case", LICENSE_FAULTS, ids=lambda c: c.name)
def test_license_api_fault(
    start_bot: BotFactory, sandbox: SandboxState, case: LicenseFault, surface: str
) -> None:
    bot = start_bot(
        licensespring_max_retries=MAX_RETRIES, licensespring_cache_ttl=0, **case.settings
    )
    sandbox.set_fault(**case.fault)
    told = SURFACES[surface](bot, seed.TYPICAL)
    assert case.expected in told
    assert "Traceback" not in told
    attempts = sandbox.requests[LOOKUP_PATH]
    assert 1 <= attempts <= MAX_RETRIES + 1, attempts
    assert_still_serving(bot, sandbox)


def test_oauth_token_expiring_mid_run_is_refreshed(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(
        licensespring_api_key=None,
        licensespring_shared_key=None,
        licensespring_client_id=seed.SANDBOX_CLIENT_ID,
        licensespring_client_secret=seed.SANDBOX_CLIENT_SECRET,
        licensespring_cache_ttl=0,
    )
    assert "8 users" in _run_command(bot, seed.TYPICAL)
    sandbox.expire_tokens()
    assert "8 users" in _run_command(bot, seed.TYPICAL)
    assert sandbox.token_requests == 2


@dataclass(frozen=True)
class SlackFault:
    name: str
    method: str  # a Web API method, or "response_url"
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    expected_ephemeral: str | None = None  # what the user is told privately, if anything


SLACK_FAULTS = [
    SlackFault("response_url 404", "response_url", status=404),
    SlackFault("response_url 410", "response_url", status=410),
    SlackFault("response_url 500", "response_url", status=500),
    SlackFault("postMessage 429", "chat.postMessage", status=429, retry_after=1),
    SlackFault(
        "postMessage 500",
        "chat.postMessage",
        status=500,
        expected_ephemeral="Slack refused the reply",
    ),
    SlackFault(
        "not_in_channel", "chat.postMessage", error="not_in_channel", expected_ephemeral="/invite"
    ),
    SlackFault(
        "channel_not_found",
        "chat.postMessage",
        error="channel_not_found",
        expected_ephemeral="/invite",
    ),
    SlackFault(
        "invalid_auth", "chat.postMessage", error="invalid_auth", expected_ephemeral="invalid_auth"
    ),
]


@pytest.mark.parametrize("case", SLACK_FAULTS, ids=lambda c: c.name)
def test_slack_fault(
    start_bot: BotFactory, sandbox: SandboxState, fake_slack: FakeSlack, case: SlackFault
) -> None:
    bot = start_bot()
    if case.method == "response_url":
        fake_slack.fail_response_urls(case.status)
        _, url = bot.command(f"acme-desktop {seed.TYPICAL}")
        rid = url.rsplit("/", 1)[1]
        deadline = time.monotonic() + 10
        while not fake_slack.responses(rid):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert fake_slack.responses(rid)[0].status == case.status
    else:
        fake_slack.fail_next(
            case.method, status=case.status, error=case.error, retry_after=case.retry_after
        )
        bot.mention(f"acme-desktop {seed.TYPICAL}", event_id=f"Ev{time.monotonic_ns()}")
        if case.expected_ephemeral is None:  # retried: posted once after the 429
            posted = [
                c
                for c in fake_slack.wait_for_calls("chat.postMessage", 2, timeout=10)
                if c.response.get("ok")
            ]
            assert len(posted) == 1
        else:
            notice = fake_slack.wait_for_calls("chat.postEphemeral", timeout=10)[0]
            assert case.expected_ephemeral in notice.args["text"]
    assert_still_serving(bot, sandbox)
