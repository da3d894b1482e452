"""The request context: who asks and from where, read from every kind of Slack payload."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from bot.audit import Actor
from bot.demo.slack_requests import (
    block_action_body,
    event_callback_body,
    message_shortcut_body,
    slash_command_body,
)
from bot.slack.core.context import actor_of, surface_of


def parsed(body: str) -> dict[str, Any]:
    """A form body as Bolt parses it: a JSON `payload`, or the command's fields."""
    fields = dict(urllib.parse.parse_qsl(body))
    if "payload" in fields:
        payload: dict[str, Any] = json.loads(fields["payload"])
        return payload
    return fields


def test_a_slash_command() -> None:
    body = parsed(slash_command_body("acme a@b.io", response_url="https://x/r", user_id="U7"))
    assert actor_of(body) == Actor("U7", body["channel_id"], team=body["team_id"])
    assert surface_of(body) == "command"


def test_a_mention_in_a_thread_and_one_outside() -> None:
    event = {"type": "app_mention", "user": "U8", "channel": "C9", "ts": "2.0", "text": "hi"}
    outside = json.loads(event_callback_body(event))
    assert actor_of(outside) == Actor("U8", "C9", team=outside["team_id"], thread_ts="2.0")
    inside = json.loads(event_callback_body({**event, "thread_ts": "1.0"}))
    assert actor_of(inside) is not None and actor_of(inside).thread_ts == "1.0"  # type: ignore[union-attr]
    assert surface_of(inside) == "mention"


def test_an_event_no_person_sent_has_no_actor() -> None:
    body = json.loads(event_callback_body({"type": "channel_created", "channel": {"id": "C1"}}))
    assert actor_of(body) is None
    assert surface_of(body) == "event"


def test_a_button_on_an_ephemeral_message() -> None:
    body = parsed(
        block_action_body(
            "page_next",
            "v",
            response_url="https://x/r",
            user_id="U5",
            channel_id="C6",
            is_ephemeral=True,
        )
    )
    actor = actor_of(body)
    assert actor is not None and (actor.slack_user, actor.channel) == ("U5", "C6")
    assert surface_of(body) == "action"


def test_a_message_shortcut_replies_in_the_messages_thread() -> None:
    message = {"type": "message", "text": "a@b.io", "ts": "5.0", "user": "U1"}
    body = parsed(
        message_shortcut_body("lookup_license_users", message, response_url="https://x/r")
    )
    actor = actor_of(body)
    assert actor is not None and actor.thread_ts == "5.0"
    assert surface_of(body) == "shortcut"


CHOICE = '{"channel": "C42", "emails": ["a@b.io"]}'  # the product picker's metadata


@pytest.mark.parametrize("metadata", [CHOICE, '{"channel": "C42"}', "not json", "", '["C42"]'])
def test_a_view_submission_takes_its_channel_from_private_metadata(metadata: str) -> None:
    body = {
        "type": "view_submission",
        "user": {"id": "U3", "team_id": "T1"},
        "view": {"private_metadata": metadata},
    }
    actor = actor_of(body)
    assert actor is not None and actor.slack_user == "U3" and actor.team == "T1"
    assert actor.channel == ("C42" if metadata == CHOICE else None)
    assert surface_of(body) == "view"


@pytest.mark.parametrize(
    "body", [{}, {"type": "block_actions"}, {"type": "block_actions", "user": {}}]
)
def test_payloads_without_a_user_have_no_actor(body: dict[str, Any]) -> None:
    assert actor_of(body) is None
