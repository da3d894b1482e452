"""Property: no command text, however odd, yields an exception, a 500 or a silent failure."""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.slack.core.grammar import HelpRequest, InvalidRequest, LookupRequest, parse_command
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


MESSAGE_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(
            WORDS,
            st.emails().map(lambda e: f"<mailto:{e}|{e}>"),
            st.text(max_size=15),
        ),
        max_size=8,
    ).map(" ".join),
)


@given(MESSAGE_TEXT)
def test_emails_in_any_message_text_are_valid_and_distinct(text: str) -> None:
    from bot.emails import emails_in_text, normalise_email

    found = emails_in_text(text)
    assert all(normalise_email(e) == e for e in found)
    assert len({e.casefold() for e in found}) == len(found)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=MESSAGE_TEXT, as_shortcut=st.booleans())
def test_any_mention_or_shortcut_text_is_handled_without_error(
    start_bot_once: BotFactory, sandbox: SandboxState, text: str, as_shortcut: bool
) -> None:
    import uuid

    bot = start_bot_once

    def reactions() -> int:
        return len(bot.slack.calls()) + len(bot.slack.responses())

    before = reactions()
    if as_shortcut:
        ack, _ = bot.shortcut(text)
    else:
        ack = bot.mention(text, event_id=f"Ev{uuid.uuid4().hex}")
    assert ack.status_code == 200, ack.text
    assert "Traceback" not in ack.text
    # Every mention and shortcut gets some visible reaction: a reply, a notice or a modal.
    deadline = time.monotonic() + 5
    while reactions() == before:
        assert time.monotonic() < deadline, f"no reaction to {text!r}"
        time.sleep(0.01)
    assert not any("Something went wrong" in json.dumps(r.body) for r in bot.slack.responses())
