"""Make text that did not come from the bot safe and bounded for Slack mrkdwn.

Policy:
- `&`, `<` and `>` are Slack's control characters. `escape` turns them into `&amp;`, `&lt;`
  and `&gt;` (`&` first), so data can never ping `<!channel>`/`<!here>`, mention `<@U…>` or
  smuggle a `<https://x|y>` link. Blocks also send data with `verbatim: true`, which stops Slack
  from auto-linking bare `@here` or `#channel` words.
- Formatting characters (`*`, `_`, `~`, `` ` ``) are left alone. At worst they restyle a
  stretch of text; inserting invisible characters to defuse them would corrupt e-mail
  addresses and names that people copy out of the message.
- Every field the bot shows is single-line: control characters (newlines, tabs, ESC, …) and
  Unicode line separators become spaces, runs of whitespace collapse to one space, bidi
  override characters (which can make text read backwards) are dropped, and lone surrogates
  (which cannot be encoded for sending) become U+FFFD.
"""

from __future__ import annotations

from datetime import UTC, datetime

ELLIPSIS = "…"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}

_CONTROL_CHARS = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_BIDI_CONTROLS = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SURROGATES = range(0xD800, 0xE000)

_ONE_LINE_TABLE: dict[int, str | None] = {
    **dict.fromkeys(_CONTROL_CHARS, " "),
    **dict.fromkeys(_BIDI_CONTROLS),
    **dict.fromkeys(_SURROGATES, "\ufffd"),
}


def one_line(text: str) -> str:
    """The text on one line: no control characters, single spaces, no outer whitespace."""
    return " ".join(text.translate(_ONE_LINE_TABLE).split())


def escape(text: str) -> str:
    """Single-line text with Slack's control characters `&`, `<`, `>` escaped."""
    return _escape_entities(one_line(text))


def _escape_entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start ending with "…"."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def text_cost(text: str) -> int:
    """The largest of the text's length in characters, in UTF-16 code units, and JSON-encoded.

    A `"` or `\\` counts twice (JSON escapes it), as does a character outside the Basic
    Multilingual Plane (two UTF-16 units). Bounding this bounds all three measures at once.
    """
    utf16_units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return utf16_units + text.count('"') + text.count("\\")


def escape_within(text: str, limit: int) -> str:
    """`escape(text)`, cut with "…" so that its `text_cost` is at most `limit`.

    Never cuts inside an `&amp;`-style entity. Empty or blank text gives "".
    """
    escaped = escape(text)
    if text_cost(escaped) <= limit:
        return escaped
    if limit <= 0:
        return ""
    return _escaped_prefix(one_line(text), limit - text_cost(ELLIPSIS)) + ELLIPSIS


def _escaped_prefix(flat: str, budget: int) -> str:
    pieces: list[str] = []
    spent = 0
    for char in flat:
        piece = _ENTITIES.get(char, char)
        cost = text_cost(piece)
        if spent + cost > budget:
            break
        pieces.append(piece)
        spent += cost
    return "".join(pieces).rstrip()


def slack_date(at_ts: float, fallback: str, *, layout: str = "{date_short_pretty} {time}") -> str:
    """Slack's `<!date^…>`: a time shown in each reader's time zone, `fallback` where it can't.

    `fallback` is outside text, so it is escaped here; `layout` is the bot's own.
    """
    shown = escape(fallback) or "later"
    return f"<!date^{int(at_ts)}^{layout}|{shown}>"


def utc_fallback(at_ts: float) -> str:
    """`2026-12-06 14:05 UTC`: what `slack_date` shows where Slack cannot format a date."""
    return f"{datetime.fromtimestamp(at_ts, UTC):%Y-%m-%d %H:%M} UTC"
