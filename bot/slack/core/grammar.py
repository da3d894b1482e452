"""Pure: the text after `/license-users` (or after a mention) -> what the user asked for.

Shared by the slash command and mentions, so both understand the same grammar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.alert_rules import DEFAULT_THRESHOLD_PCT
from bot.emails import looks_like_email, normalise_email
from bot.rendering.mrkdwn import escape_within, one_line
from bot.userlist import MAX_SEARCH_CHARS
from bot.watches import parse_watch_id

__all__ = [
    "COMMAND",
    "DEFAULT_THRESHOLD_PCT",
    "MAX_SEARCH_CHARS",
    "HelpRequest",
    "InvalidRequest",
    "ListWatchesRequest",
    "LookupRequest",
    "ParsedCommand",
    "UnwatchRequest",
    "WatchRequest",
    "is_product_code",
    "parse_command",
    "parse_search",
    "usage",
]

COMMAND = "/license-users"
_PRODUCT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def is_product_code(word: str) -> bool:
    """A plausible LicenseSpring product short code (LicenseSpring decides if it exists)."""
    return bool(_PRODUCT_CODE.fullmatch(word))


@dataclass(frozen=True, slots=True)
class HelpRequest:
    pass


@dataclass(frozen=True, slots=True)
class LookupRequest:
    products: tuple[str, ...]  # one, or several when the e-mail came alone
    email: str
    search: str | None = None  # cleaned by `parse_search`: one line, at most MAX_SEARCH_CHARS


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    reason: str  # what was wrong, one sentence


@dataclass(frozen=True, slots=True)
class WatchRequest:
    product: str
    email: str
    channel: str | None  # None: the channel the command was typed in
    threshold_pct: int | None  # None: the default


@dataclass(frozen=True, slots=True)
class UnwatchRequest:
    watch_id: int | None
    email: str | None


@dataclass(frozen=True, slots=True)
class ListWatchesRequest:
    channel: str | None


ParsedCommand = (
    HelpRequest
    | LookupRequest
    | InvalidRequest
    | WatchRequest
    | UnwatchRequest
    | ListWatchesRequest
)
_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$")
_PERCENT = re.compile(r"^(\d{1,3})%?$")


def usage(products: Sequence[str] = (), default_product: str | None = None) -> str:
    example_product = default_product or (products[0] if products else "my-product")
    lines = [
        f"*Usage:* `{COMMAND} &lt;product&gt; &lt;customer-email&gt; [search…]`",
        f"• `{COMMAND} {example_product} ada@example.com`: license users of one customer",
        f"• `{COMMAND} {example_product} ada@example.com grace`: only the users whose e-mail, "
        "first or last name contains every word after the customer's e-mail "
        "(an e-mail works too)",
    ]
    if default_product:
        lines.append(f"• `{COMMAND} ada@example.com`: uses the default product `{default_product}`")
    elif len(products) > 1:
        lines.append(f"• `{COMMAND} ada@example.com`: looks the customer up in every product")
    if products:
        lines.append("Products: " + ", ".join(f"`{p}`" for p in products))
    lines.append(
        f"• `{COMMAND} watch {example_product} ada@example.com [#channel] [at 80%]`: "
        "alert a channel when the customer's users change or run out of activations"
    )
    lines.append(f"• `{COMMAND} watches [#channel]` and `{COMMAND} unwatch &lt;id or e-mail&gt;`")
    lines.append(f"• `{COMMAND} help`: this message")
    return "\n".join(lines)


def parse_command(
    text: str, *, products: Sequence[str] = (), default_product: str | None = None
) -> ParsedCommand:
    words = text.split()
    if not words or (len(words) == 1 and words[0].lower() in {"help", "-h", "--help", "?"}):
        return HelpRequest()
    subcommand = words[0].lower()
    if subcommand == "watch":
        return _parse_watch(words[1:], products, default_product)
    if subcommand == "unwatch":
        return _parse_unwatch(words[1:])
    if subcommand == "watches":
        return _parse_list_watches(words[1:])
    return _parse_lookup(words, products, default_product)


def _parse_lookup(
    words: list[str], products: Sequence[str], default_product: str | None
) -> ParsedCommand:
    """`[product] customer-email [search…]`, or `customer-email [product] [search…]`."""
    at = next((i for i, word in enumerate(words) if looks_like_email(word)), None)
    if at is None:
        return InvalidRequest("No customer e-mail found.")
    before, after = words[:at], words[at + 1 :]
    email = normalise_email(words[at])
    if email is None:
        return InvalidRequest(f"`{_shown(words[at])}` is not a valid e-mail address.")
    if len(before) > 1:
        return InvalidRequest(
            f"Too many words before the customer e-mail ({len(before)}): give one product, "
            "then the e-mail, then any search."
        )
    if not before and after and _names_a_product(after[0], products, default_product):
        before, after = after[:1], after[1:]
    search = parse_search(" ".join(after))
    if isinstance(search, InvalidRequest):
        return search
    if before:
        return _with_product(before[0], email, products, search)
    if default_product:
        return LookupRequest((default_product,), email, search)
    if products:
        return LookupRequest(tuple(products), email, search)
    return InvalidRequest("No product given, and no default product is configured.")


def _names_a_product(word: str, products: Sequence[str], default_product: str | None) -> bool:
    """After a leading e-mail: is this word the product, or the start of a search?"""
    if products:
        return word.casefold() in {p.casefold() for p in products}
    # Without a product list, a word can only be told from a search by the default product:
    # with one, words after the e-mail are a search; without one, the first is the product.
    return default_product is None and bool(_PRODUCT_CODE.fullmatch(word))


# Slack's `<mailto:a@b.c|a@b.c>`, `<https://x.example|x.example>` and `<https://x.example>`.
_SLACK_LINK = re.compile(
    r"<(?:mailto:|https?://)[^|>]*\|([^>]*)>" r"|<((?:mailto:|https?://)[^|>]*)>"
)


def _link_text(match: re.Match[str]) -> str:
    label, target = match.group(1), match.group(2)
    return label if label is not None else target.removeprefix("mailto:")


def parse_search(text: str) -> str | InvalidRequest | None:
    """Search text as typed in Slack or a terminal -> the search, None for none, or a complaint.

    Slack's escaping is undone (`&lt;` is searched as `<`; a linked or mailto-wrapped word as
    its label), so people find what they typed; control characters and line breaks become
    single spaces.
    """
    unwrapped = _SLACK_LINK.sub(_link_text, text)
    search = one_line(unwrapped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    if not search:
        return None
    if len(search) > MAX_SEARCH_CHARS:
        return InvalidRequest(
            f"The search is {len(search):,} characters long; keep it to {MAX_SEARCH_CHARS} "
            "(a name or an e-mail)."
        )
    return search


def _parse_watch(
    words: list[str], products: Sequence[str], default_product: str | None
) -> ParsedCommand:
    form = f"`{COMMAND} watch &lt;product&gt; &lt;customer-email&gt; [#channel] [at 80%]`"
    channel: str | None = None
    threshold: int | None = None
    rest: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.lower() == "at":
            if index + 1 >= len(words):
                return InvalidRequest(f"`at` needs a percentage, e.g. `at 80%`. Form: {form}")
            percent = _PERCENT.match(words[index + 1])
            if not percent or not 1 <= int(percent.group(1)) <= 100:
                shown = _shown(words[index + 1])
                return InvalidRequest(f"`{shown}` is not a percentage from 1 to 100. Form: {form}")
            threshold = int(percent.group(1))
            index += 2
            continue
        if word.startswith(("<#", "#")):
            match = _CHANNEL.match(word)
            if not match:
                return InvalidRequest(
                    f"`{_shown(word)}` is not a channel: pick it from Slack's #-autocomplete."
                )
            channel = match.group(1)
        else:
            rest.append(word)
        index += 1
    target = parse_command(" ".join(rest), products=products, default_product=default_product)
    if isinstance(target, InvalidRequest):
        return InvalidRequest(f"{target.reason} Form: {form}")
    if not isinstance(target, LookupRequest) or not rest:
        return InvalidRequest(f"Say which customer to watch. Form: {form}")
    if target.search is not None:
        extra = _shown(target.search)
        return InvalidRequest(f"A watch takes no search: leave out `{extra}`. Form: {form}")
    if len(target.products) != 1:
        return InvalidRequest(f"Say which product to watch. Form: {form}")
    return WatchRequest(target.products[0], target.email, channel, threshold)


def _parse_unwatch(words: list[str]) -> ParsedCommand:
    form = f"`{COMMAND} unwatch &lt;id or customer-email&gt;` (ids: `{COMMAND} watches`)"
    if len(words) != 1:
        return InvalidRequest(f"Give one watch id or e-mail. Form: {form}")
    watch_id = parse_watch_id(words[0])
    if watch_id is not None:
        return UnwatchRequest(watch_id, None)
    email = normalise_email(words[0])
    if email is None:
        return InvalidRequest(f"`{_shown(words[0])}` is neither a watch id nor an e-mail. {form}")
    return UnwatchRequest(None, email)


def _parse_list_watches(words: list[str]) -> ParsedCommand:
    if not words:
        return ListWatchesRequest(None)
    match = _CHANNEL.match(words[0]) if len(words) == 1 else None
    if match is None:
        return InvalidRequest(f"Form: `{COMMAND} watches [#channel]`")
    return ListWatchesRequest(match.group(1))


def _with_product(
    word: str, email: str, products: Sequence[str], search: str | None = None
) -> ParsedCommand:
    if not is_product_code(word):
        return InvalidRequest(f"`{_shown(word)}` is not a product short code.")
    if products:
        known = {p.casefold(): p for p in products}
        if word.casefold() not in known:
            names = ", ".join(f"`{p}`" for p in products)
            return InvalidRequest(f"Unknown product `{_shown(word)}`. Known products: {names}.")
        word = known[word.casefold()]
    return LookupRequest((word,), email, search)


def _shown(word: str) -> str:
    """User text echoed back inside code spans: defanged and short."""
    return escape_within(word.replace("`", "'"), 60)
