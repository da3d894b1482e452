"""Escaping, flattening and truncation of outside text for Slack mrkdwn."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.rendering.mrkdwn import ELLIPSIS, escape, escape_within, one_line, text_cost, truncate


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt;", "&amp;lt;"),  # '&' first: an entity in the data stays literal text
        ("*bold* _it_ ~s~ `c`", "*bold* _it_ ~s~ `c`"),  # formatting is left alone
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_one_line_flattens_controls_and_whitespace() -> None:
    assert one_line("  Ada\r\nLovelace\t\x1b[31m \u2028x  ") == "Ada Lovelace [31m x"


def test_one_line_drops_bidi_overrides_and_replaces_lone_surrogates() -> None:
    assert one_line("abc\u202edef\u2066") == "abcdef"
    assert one_line("a\ud800b") == "a\ufffdb"
    assert escape("a\ud800b").encode("utf-8")


def test_escape_flattens_newlines() -> None:
    assert escape("line one\nline <two>") == "line one line &lt;two&gt;"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("a longer text", 8, "a longe…"),
        ("word  space", 6, "word…"),
        ("anything", 0, ""),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected


def test_text_cost_counts_json_escapes_and_utf16_units() -> None:
    assert text_cost("abc") == 3
    assert text_cost('a"b') == 4
    assert text_cost("a\\b") == 4
    assert text_cost("\U0001d54f") == 2  # outside the BMP
    assert text_cost("é") == 1


def test_escape_within_never_cuts_an_entity() -> None:
    cut = escape_within("&" * 100, 23)
    assert cut == "&amp;" * 4 + ELLIPSIS
    assert escape_within("ab&cd", 6) == "ab" + ELLIPSIS


def test_escape_within_keeps_short_text_and_blanks() -> None:
    assert escape_within("Ada <3", 50) == "Ada &lt;3"
    assert escape_within("   \n ", 50) == ""


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_escape_within_bounds_every_measure(text: str, limit: int) -> None:
    result = escape_within(text, limit)
    assert text_cost(result) <= limit
    assert len(result) <= limit
    assert len(json.dumps(result, ensure_ascii=False)) - 2 <= limit
    assert len(result.encode("utf-16-le")) // 2 <= limit
    assert "<" not in result
    assert ">" not in result
    assert "\n" not in result
    whole = escape(text)
    assert result == whole or (result.endswith(ELLIPSIS) and whole.startswith(result[:-1]))


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_truncate_bounds_length(text: str, limit: int) -> None:
    result = truncate(text, limit)
    assert len(result) <= limit
    assert result == text or result.endswith(ELLIPSIS) or result == ""
