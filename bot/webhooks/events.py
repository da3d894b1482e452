"""Pure: a webhook body -> the event, and which watches it concerns.

An event is read as "this customer changed, look again", never as a delta to apply: the
order and completeness of deliveries are not documented. Customer events name the customer
by e-mail; license events carry the license id and sometimes the license user's e-mail,
which the bot maps to watched customers through what each watch's last lookup held
(`watch_keys`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.summary import Summary

# The events that can change what a watch reports; every other event is acknowledged and ignored.
USED_EVENTS = frozenset(
    {
        "license.activated",
        "license.deactivated",
        "license.license_user.assigned",
        "license.license_user.unassigned",
        "license.updated",
        "license.reset",
        "customer.updated",
    }
)
MAX_ID_CHARS = 200


class MalformedEvent(ValueError):
    """The body is not a webhook event (not JSON, not an object, no id or event code)."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    code: str
    customer_emails: frozenset[str]  # lower-cased
    keys: frozenset[str]  # license and license-user keys, as `watch_keys` makes them

    @property
    def used(self) -> bool:
        return self.code in USED_EVENTS


def license_key(license_id: int) -> str:
    return f"license:{license_id}"


def user_key(email: str) -> str:
    return f"user:{email.strip().lower()}"


def parse_event(body: bytes) -> WebhookEvent:
    try:
        payload: Any = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise MalformedEvent("the body is not JSON") from error
    if not isinstance(payload, dict):
        raise MalformedEvent("the body is not a JSON object")
    event_id, code = payload.get("id"), payload.get("event")
    if not isinstance(event_id, str | int) or isinstance(event_id, bool) or not str(event_id):
        raise MalformedEvent("the event has no id")
    if not isinstance(code, str) or not code:
        raise MalformedEvent("the event has no event code")
    if len(str(event_id)) > MAX_ID_CHARS:
        raise MalformedEvent("the event id is too long")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    emails: set[str] = set()
    keys: set[str] = set()
    customer = data.get("customer")
    if isinstance(customer, dict) and _email(customer.get("email")):
        emails.add(str(customer["email"]).strip().lower())
    license_ = data.get("license")
    if isinstance(license_, dict):
        license_id = license_.get("id")
        if isinstance(license_id, int) and not isinstance(license_id, bool):
            keys.add(license_key(license_id))
        elif isinstance(license_id, str) and license_id.isdigit():
            keys.add(license_key(int(license_id)))
    license_user = data.get("license_user")
    if isinstance(license_user, dict) and _email(license_user.get("email")):
        keys.add(user_key(str(license_user["email"])))
    return WebhookEvent(str(event_id), code, frozenset(emails), frozenset(keys))


def _email(value: Any) -> bool:
    return isinstance(value, str) and "@" in value and len(value) <= 320


def watch_keys(summary: Summary) -> frozenset[str]:
    """What a lookup's answer lets a license event be matched by: license ids, user e-mails."""
    keys: set[str] = set()
    for user in summary.users:
        if user.license_id is not None:
            keys.add(license_key(user.license_id))
        if user.email:
            keys.add(user_key(user.email))
    return frozenset(keys)


def keys_of(values: Iterable[str]) -> list[str]:
    """Stable order for storing and querying."""
    return sorted(set(values))
