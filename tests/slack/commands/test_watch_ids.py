"""Watch ids are ASCII digits that fit the store's column; anything else gets the usage line."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.app import SandboxState
from bot.slack.core.grammar import InvalidRequest, UnwatchRequest, parse_command
from bot.watches import MAX_WATCH_ID, parse_watch_id
from tests.slack_harness import BotFactory
from tests.support.leaks import UNRETRIEVED, LeakScanner

NOT_IDS = [
    "²",  # superscript two: str.isdigit() says yes, int() says no
    "٣",  # Arabic-Indic three: int() reads it, it is no ASCII id
    "\uff11\uff12",  # fullwidth digits
    "99999999999999999999999999",
    str(MAX_WATCH_ID + 1),
    "0",
    "-5",
    "+5",
    "0x1F",
    "1e3",
    "1.0",
    "1_000",
    "##7",
]


@pytest.mark.parametrize("word", NOT_IDS)
def test_what_is_not_a_watch_id(word: str) -> None:
    assert parse_watch_id(word) is None
    parsed = parse_command(f"unwatch {word}")
    assert isinstance(parsed, InvalidRequest)
    assert "neither a watch id nor an e-mail" in parsed.reason or "one watch id" in parsed.reason


@pytest.mark.parametrize(
    ("word", "number"), [("7", 7), ("#7", 7), (str(MAX_WATCH_ID), MAX_WATCH_ID)]
)
def test_what_is_a_watch_id(word: str, number: int) -> None:
    assert parse_watch_id(word) == number
    assert parse_command(f"unwatch {word}") == UnwatchRequest(number, None)


@given(st.text(max_size=30))
def test_no_text_breaks_the_unwatch_grammar(word: str) -> None:
    parsed = parse_command(f"unwatch {word}")
    if isinstance(parsed, UnwatchRequest) and parsed.watch_id is not None:
        assert 0 < parsed.watch_id <= MAX_WATCH_ID


def test_bad_ids_get_the_usage_line_and_no_task_dies_unseen(
    start_bot: BotFactory, sandbox: SandboxState, store_url: str, leak_scanner: LeakScanner
) -> None:
    bot = start_bot(database_url=store_url)
    for word in ["²", "٣", "99999999999999999999999999", "-1", "0x10", "1e3"]:
        ack, _ = bot.command(f"unwatch {word}")
        assert ack.status_code == 200
        text = ack.json()["text"]
        assert "neither a watch id nor an e-mail" in text and "Usage" in text, word
    gc.collect()  # asyncio reports a failed task nobody awaited when it is collected
    assert not [hit for hit in leak_scanner.hits if UNRETRIEVED in hit]
    assert bot.slack.responses() == []  # nothing after the ack
