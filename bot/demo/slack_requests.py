"""Slack-signed HTTP requests, shaped the way Slack sends them, for driving ``POST /slack/events``.

Example::

    body = slash_command_body("acme", response_url=fake.new_response_url())
    response = await post_signed(
        client, f"{bot_url}/slack/events", body, content_type=FORM_CONTENT_TYPE
    )
    assert response.status_code == 200

Slash commands arrive form-encoded; interactivity (block actions, shortcuts) as a form with one
``payload`` field holding JSON; Events API callbacks as JSON. Signatures follow
``v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`` via slack_sdk's ``SignatureVerifier``.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"

VERIFICATION_TOKEN = "verification-token"  # the deprecated `token` field Slack still sends
API_APP_ID = "A111"
TEAM_DOMAIN = "test"
BOT_USER_ID = "UBOT"


def _guess_content_type(body: str) -> str:
    return JSON_CONTENT_TYPE if body.lstrip().startswith("{") else FORM_CONTENT_TYPE


def sign_body(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: timestamp, ``v0=`` signature and Content-Type.

    ``timestamp`` defaults to now; ``content_type`` defaults to JSON for a body starting with
    ``{``, else form-encoded.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": content_type or _guess_content_type(body),
    }


def slash_command_body(
    text: str,
    *,
    response_url: str,
    user_id: str = "U111",
    channel_id: str = "C111",
    command: str = "/license-users",
    team_id: str = "T1",
    trigger_id: str = "123.456",
) -> str:
    """A slash command invocation, form-encoded with Slack's fields in Slack's order."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def _find_button(blocks: list[Any] | None, action_id: str) -> tuple[str | None, str | None]:
    """(block_id, button text) of the element with ``action_id`` in ``blocks``, if present."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        candidates = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                text = element.get("text")
                label = text.get("text") if isinstance(text, dict) else None
                return block.get("block_id"), label
    return None, None


def _payload_form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def block_action_body(
    action_id: str,
    value: str,
    *,
    response_url: str,
    user_id: str = "U111",
    channel_id: str = "C111",
    message_ts: str = "1700000000.000100",
    blocks: list[Any] | None = None,
    block_id: str | None = None,
    is_ephemeral: bool = False,
    team_id: str = "T1",
    trigger_id: str = "123.456",
) -> str:
    """A button click (``block_actions``), form-encoded as ``payload=<json>``.

    ``block_id`` and the button label are taken from ``blocks`` when the action is found there.
    For a click on an ephemeral message (``is_ephemeral=True``) Slack sends no ``message``.
    """
    found_block_id, label = _find_button(blocks, action_id)
    action_ts = f"{time.time():.6f}"
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": team_id,
        },
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id or found_block_id or "b1",
                "text": {"type": "plain_text", "text": label or action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    if not is_ephemeral:
        payload["message"] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": "BBOT",
            "team": team_id,
            "text": "",
            "ts": message_ts,
            "blocks": blocks or [],
        }
    return _payload_form(payload)


def select_action_body(
    action_id: str,
    block_id: str,
    selected_value: str,
    *,
    response_url: str,
    selected_text: str = "",
    user_id: str = "U111",
    channel_id: str = "C111",
    message_ts: str = "1700000000.000100",
    team_id: str = "T1",
) -> str:
    """A choice in a ``static_select`` menu of an ephemeral message, as Slack sends it."""
    option = {
        "text": {"type": "plain_text", "text": selected_text or selected_value, "emoji": True},
        "value": selected_value,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower()},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": True,
        },
        "trigger_id": "123.456",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "channel": {"id": channel_id, "name": "general"},
        "state": {"values": {block_id: {action_id: {"type": "static_select"}}}},
        "response_url": response_url,
        "actions": [
            {
                "type": "static_select",
                "action_id": action_id,
                "block_id": block_id,
                "selected_option": option,
                "placeholder": {"type": "plain_text", "text": "Filter users", "emoji": True},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return _payload_form(payload)


def event_callback_body(
    event: dict[str, Any], *, event_id: str = "Ev1", team_id: str = "T1"
) -> str:
    """An Events API ``event_callback`` (JSON), authorized for the bot user UBOT."""
    return json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": API_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{event_id}",
        }
    )


def function_executed_body(
    inputs: dict[str, Any],
    *,
    bot_access_token: str,
    function_execution_id: str = "Fx1",
    workflow_execution_id: str = "Wf1",
    callback_id: str = "lookup_license_users",
    event_id: str = "EvFx1",
    team_id: str = "T1",
) -> str:
    """A Workflow Builder step run (``function_executed``) as Slack sends it (JSON).

    ``bot_access_token`` is the execution's just-in-time ``xwfp-`` token (see
    ``FakeSlack.new_function_token``); completions must be sent with it.
    """
    event_ts = f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "function_executed",
        "function": {
            "id": "Fn1",
            "callback_id": callback_id,
            "title": "Look up license users",
            "type": "app",
            "app_id": API_APP_ID,
            "date_updated": int(time.time()),
        },
        "inputs": inputs,
        "function_execution_id": function_execution_id,
        "workflow_execution_id": workflow_execution_id,
        "event_ts": event_ts,
        "bot_access_token": bot_access_token,
    }
    return event_callback_body(event, event_id=event_id, team_id=team_id)


def message_shortcut_body(
    callback_id: str,
    message: dict[str, Any],
    *,
    channel_id: str = "C111",
    user_id: str = "U111",
    response_url: str,
    team_id: str = "T1",
    trigger_id: str = "123.456",
) -> str:
    """A message shortcut (``message_action``), form-encoded as ``payload=<json>``."""
    payload: dict[str, Any] = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": team_id,
        },
        "channel": {"id": channel_id, "name": "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message.get("ts", ""),
        "message": message,
    }
    return _payload_form(payload)


def url_verification_body(challenge: str = "challenge-token") -> str:
    """The Events API ``url_verification`` handshake (JSON)."""
    return json.dumps(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )


def _headers(
    body: str,
    secret: str,
    content_type: str | None,
    timestamp: int | None,
    extra_headers: dict[str, str] | None,
) -> dict[str, str]:
    headers = sign_body(body, secret=secret, timestamp=timestamp, content_type=content_type)
    headers.update(extra_headers or {})
    return headers


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    content_type: str | None = None,
    timestamp: int | None = None,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST ``body`` signed with ``secret``; ``extra_headers`` (e.g. X-Slack-Retry-Num) win."""
    headers = _headers(body, secret, content_type, timestamp, extra_headers)
    return await client.post(url, content=body.encode("utf-8"), headers=headers)


def post_signed_sync(
    client: httpx.Client,
    url: str,
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    content_type: str | None = None,
    timestamp: int | None = None,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Blocking twin of ``post_signed``."""
    headers = _headers(body, secret, content_type, timestamp, extra_headers)
    return client.post(url, content=body.encode("utf-8"), headers=headers)


def _user_object(user_id: str, team_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def app_home_opened_body(
    user_id: str = "U111", *, tab: str = "home", event_id: str = "EvHome1", team_id: str = "T1"
) -> str:
    """The ``app_home_opened`` event Slack sends when someone opens the app's Home (or Messages)
    tab, as an Events API callback (JSON)."""
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id.removeprefix("U"),
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    return event_callback_body(event, event_id=event_id, team_id=team_id)


def view_block_action_body(
    action_id: str,
    value: str,
    *,
    view: dict[str, Any],
    user_id: str = "U111",
    team_id: str = "T1",
    trigger_id: str = "123.456",
) -> str:
    """A button click inside a view (the App Home or a modal): ``container`` is the view, and
    there is no ``channel`` and no ``response_url``. ``view`` is the view as published/opened
    (its ``id`` and ``type`` are what the bot reads)."""
    found_block_id, label = _find_button(view.get("blocks"), action_id)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user_object(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view.get("id", "V1")},
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": "V1", "team_id": team_id, "state": {"values": {}}, **view},
        "actions": [
            {
                "action_id": action_id,
                "block_id": found_block_id or "b1",
                "text": {"type": "plain_text", "text": label or action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return _payload_form(payload)


def global_shortcut_body(
    callback_id: str, *, user_id: str = "U111", team_id: str = "T1", trigger_id: str = "123.456"
) -> str:
    """A global shortcut (``shortcut``): a trigger_id, but no channel and no response_url."""
    payload = {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user_object(user_id, team_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
    }
    return _payload_form(payload)


def input_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` for a submission of ``view``: ``values`` maps a block_id to what
    was entered (a str for text and number inputs and selects, or None for nothing), shaped
    per the element type the view declares there."""
    state: dict[str, Any] = {}
    elements = {
        block["block_id"]: block["element"]
        for block in view.get("blocks") or []
        if block.get("type") == "input" and "block_id" in block
    }
    for block_id, element in elements.items():
        entered = values.get(block_id)
        kind = element.get("type")
        if block_id not in values:  # untouched: what Slack sends for the initial value
            if kind == "static_select":
                entered = (element.get("initial_option") or {}).get("value")
            elif kind == "conversations_select":
                entered = element.get("initial_conversation")
            else:
                entered = element.get("initial_value")
        answer: dict[str, Any] = {"type": kind}
        if kind == "static_select":
            answer["selected_option"] = (
                None
                if entered is None
                else {"text": {"type": "plain_text", "text": entered}, "value": entered}
            )
        elif kind == "conversations_select":
            answer["selected_conversation"] = entered
        else:
            answer["value"] = entered
        state[block_id] = {element["action_id"]: answer}
    return state


def view_submission_body(
    view: dict[str, Any],
    values: dict[str, Any] | None = None,
    *,
    user_id: str = "U111",
    team_id: str = "T1",
    view_id: str | None = None,
) -> str:
    """A modal's submission (``view_submission``); see ``input_state`` for ``values``."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user_object(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": "123.456",
        "view": {
            **view,
            "id": view_id or view.get("id") or "V1",
            "team_id": team_id,
            "state": {"values": input_state(view, values or {})},
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)
