"""Pure: the text after `/license-users` (or after a mention) -> what the user asked for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.emails import looks_like_email, normalise_email

COMMAND = "/license-users"
_PRODUCT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True, slots=True)
class HelpRequest:
    pass


@dataclass(frozen=True, slots=True)
class LookupRequest:
    products: tuple[str, ...]  # one, or several when the e-mail came alone
    email: str


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    reason: str  # what was wrong, one sentence


ParsedCommand = HelpRequest | LookupRequest | InvalidRequest


def usage(products: Sequence[str] = (), default_product: str | None = None) -> str:
    example_product = default_product or (products[0] if products else "my-product")
    lines = [
        f"*Usage:* `{COMMAND} &lt;product&gt; &lt;customer-email&gt;`",
        f"• `{COMMAND} {example_product} ada@example.com`: license users of one customer",
    ]
    if default_product:
        lines.append(f"• `{COMMAND} ada@example.com`: uses the default product `{default_product}`")
    elif len(products) > 1:
        lines.append(f"• `{COMMAND} ada@example.com`: looks the customer up in every product")
    if products:
        lines.append("Products: " + ", ".join(f"`{p}`" for p in products))
    lines.append(f"• `{COMMAND} help`: this message")
    return "\n".join(lines)


def parse_command(
    text: str, *, products: Sequence[str] = (), default_product: str | None = None
) -> ParsedCommand:
    words = text.split()
    if not words or (len(words) == 1 and words[0].lower() in {"help", "-h", "--help", "?"}):
        return HelpRequest()
    if len(words) > 2:
        return InvalidRequest(
            f"Too many words ({len(words)}): give a product and one customer e-mail."
        )
    email_words = [w for w in words if looks_like_email(w)]
    if not email_words:
        return InvalidRequest("No customer e-mail found.")
    if len(email_words) > 1:
        return InvalidRequest("Two e-mail addresses given: give one product and one e-mail.")
    email = normalise_email(email_words[0])
    if email is None:
        return InvalidRequest(f"`{_shown(email_words[0])}` is not a valid e-mail address.")
    product_words = [w for w in words if w is not email_words[0]]
    if product_words:
        return _with_product(product_words[0], email, products)
    if default_product:
        return LookupRequest((default_product,), email)
    if products:
        return LookupRequest(tuple(products), email)
    return InvalidRequest("No product given, and no default product is configured.")


def _with_product(word: str, email: str, products: Sequence[str]) -> ParsedCommand:
    if not _PRODUCT_CODE.fullmatch(word):
        return InvalidRequest(f"`{_shown(word)}` is not a product short code.")
    if products:
        known = {p.casefold(): p for p in products}
        if word.casefold() not in known:
            names = ", ".join(f"`{p}`" for p in products)
            return InvalidRequest(f"Unknown product `{_shown(word)}`. Known products: {names}.")
        word = known[word.casefold()]
    return LookupRequest((word,), email)


def _shown(word: str) -> str:
    """User text echoed back inside code spans: defanged and short."""
    cleaned = word.replace("`", "'").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"
