"""Property: no command text, however odd, yields an exception, a 500 or a silent failure."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.slack.parsing import HelpRequest, InvalidRequest, LookupRequest, parse_command
from tests.slack_harness import BotFactory

WORDS = st.sampled_from(
    [
        "acme-desktop",
        "acme-cli",
        seed.TYPICAL,
        f"<mailto:{seed.TYPICAL}|{seed.TYPICAL}>",
        "<@U123>",
        "<!channel>",
        "help",
        "@",
        "a@b",
        "`",
        "&amp;",
        "\u202e",
        "x" * 300,
    ]
)
COMMAND_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(WORDS, max_size=4).map(" ".join),
    st.lists(st.one_of(WORDS, st.text(max_size=20)), max_size=4).map(" ".join),
)


@given(COMMAND_TEXT)
def test_parse_command_is_total(text: str) -> None:
    parsed = parse_command(text, products=["acme-desktop", "acme-cli"])
    assert isinstance(parsed, HelpRequest | InvalidRequest | LookupRequest)
    if isinstance(parsed, InvalidRequest):
        assert parsed.reason
        assert "<!" not in parsed.reason
        assert "<@" not in parsed.reason


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=COMMAND_TEXT)
def test_any_command_text_gets_an_ephemeral_answer_never_a_500(
    start_bot_once: BotFactory, sandbox: SandboxState, text: str
) -> None:
    bot = start_bot_once
    ack, response_url = bot.command(text)
    assert ack.status_code == 200, ack.text
    body = ack.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"]
    dumped = json.dumps(body)
    assert "<!channel>" not in dumped
    assert "Traceback" not in dumped
    if "Looking up" in body["text"]:
        final = bot.final_response(response_url)
        assert final.get("text")
