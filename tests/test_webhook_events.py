"""Pure: webhook bodies -> events, and the keys that map license events to watches."""

from __future__ import annotations

import json

import pytest

from bot.licensespring.models import parse_customer_license_users
from bot.sandbox import seed
from bot.summary import summarise
from bot.webhooks.events import MalformedEvent, parse_event, watch_keys


def body(**fields: object) -> bytes:
    return json.dumps({"id": "e1", "event": "license.activated", "ts": 1, **fields}).encode()


def test_customer_events_name_the_customer_by_email() -> None:
    event = parse_event(
        body(event="customer.updated", data={"customer": {"id": 3, "email": "Ada@Example.com"}})
    )
    assert (event.id, event.code, event.used) == ("e1", "customer.updated", True)
    assert event.customer_emails == {"ada@example.com"}
    assert event.keys == frozenset()


def test_license_events_carry_the_license_id_and_maybe_the_user() -> None:
    event = parse_event(
        body(data={"license": {"id": 42}, "license_user": {"email": "U@X.io"}, "device": {}})
    )
    assert event.keys == {"license:42", "user:u@x.io"}
    assert parse_event(body(data={"license": {"id": "7"}})).keys == {"license:7"}
    assert parse_event(body(data={"license": {"id": True}})).keys == frozenset()


def test_unknown_events_parse_but_are_not_used() -> None:
    assert not parse_event(body(event="product.created", data={})).used


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"event": "license.activated"}',
        b'{"id": "", "event": "license.activated"}',
        b'{"id": "e1"}',
        b'{"id": true, "event": "x"}',
        json.dumps({"id": "x" * 201, "event": "license.activated"}).encode(),
        b"[" * 100_000,
    ],
)
def test_malformed_bodies_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(raw)


def test_data_that_is_not_an_object_is_read_as_empty() -> None:
    event = parse_event(body(data=[1], id=17))
    assert (event.id, event.keys, event.customer_emails) == ("17", frozenset(), frozenset())


def test_watch_keys_hold_every_license_id_and_user_email() -> None:
    raw = seed.seed_customers()["acme-desktop"][seed.TYPICAL]
    summary = summarise("acme-desktop", parse_customer_license_users(json.dumps(raw).encode()))
    keys = watch_keys(summary)
    for user in raw["users"]:
        assert f"license:{user['license_id']}" in keys
        assert f"user:{user['email'].lower()}" in keys
