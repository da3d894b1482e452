"""Pure: find and normalise customer e-mail addresses in user-typed or Slack-escaped text."""

from __future__ import annotations

import re

# Slack escapes addresses as <mailto:a@b.com|a@b.com>; older payloads omit the label.
_SLACK_MAILTO = re.compile(r"<mailto:([^|>\s]+)(?:\|[^>]*)?>", re.IGNORECASE)
# Deliberately simple: one @, no spaces, a dot in the domain. LicenseSpring is the judge
# of whether the customer exists; this only catches typos and non-addresses early.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MAX_EMAIL_LENGTH = 254


def unwrap_slack_email(token: str) -> str:
    """`<mailto:a@b.com|a@b.com>` -> `a@b.com`; anything else is returned stripped."""
    token = token.strip()
    match = _SLACK_MAILTO.fullmatch(token)
    return match.group(1) if match else token


def normalise_email(token: str) -> str | None:
    """The address in `token` (raw or Slack-escaped), or None when it is not one."""
    candidate = unwrap_slack_email(token).strip().strip(".,;:()[]'\"")
    if len(candidate) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(candidate):
        return None
    local, _, domain = candidate.rpartition("@")
    return f"{local}@{domain.lower()}"


def looks_like_email(token: str) -> bool:
    return "@" in unwrap_slack_email(token)


def emails_in_text(text: str) -> list[str]:
    """Every distinct address in a message, in order of appearance."""
    unwrapped = _SLACK_MAILTO.sub(lambda m: f" {m.group(1)} ", text)
    found: list[str] = []
    for raw in _EMAIL_IN_TEXT.findall(unwrapped):
        email = normalise_email(raw)
        if email is not None and email.casefold() not in {e.casefold() for e in found}:
            found.append(email)
    return found
