"""manifest.yml and Procfile agree with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.rendering.ids import CallbackId
from bot.slack.core.grammar import COMMAND

ROOT = Path(__file__).resolve().parent.parent


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_slash_command_is_declared_escaped() -> None:
    commands = manifest()["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [COMMAND]
    assert commands[0]["should_escape"] is True
    assert commands[0]["description"]
    assert commands[0]["usage_hint"]


def test_shortcuts_and_events_are_declared() -> None:

    shortcuts = manifest()["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"]) for s in shortcuts] == [
        ("message", CallbackId.MESSAGE_SHORTCUT),
        ("global", CallbackId.GLOBAL_SHORTCUT),
    ]
    assert CallbackId.MESSAGE_SHORTCUT != CallbackId.GLOBAL_SHORTCUT
    for shortcut in shortcuts:
        assert 1 <= len(shortcut["name"]) <= 24 and len(shortcut["description"]) <= 150
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert events == ["app_mention", "app_home_opened"]


def test_every_declared_event_and_shortcut_has_a_listener(start_bot: Any, sandbox: Any) -> None:
    """Bolt answers 404 to what no listener takes, and Slack retries and may then disable
    delivery: every subscribed event and every shortcut must be answered 200."""
    from bot.demo.slack_requests import (
        event_callback_body,
        global_shortcut_body,
        message_shortcut_body,
        post_signed_sync,
    )

    bot = start_bot()
    bodies = []
    for number, event in enumerate(manifest()["settings"]["event_subscriptions"]["bot_events"]):
        payload = {"type": event, "user": "U111", "channel": "C111", "tab": "home", "ts": "1.2"}
        payload["text"] = "<@UBOT> help"
        bodies.append(event_callback_body(payload, event_id=f"EvManifest{number}"))
    for shortcut in manifest()["features"]["shortcuts"]:
        if shortcut["type"] == "global":
            bodies.append(global_shortcut_body(shortcut["callback_id"]))
        else:
            message = {"type": "message", "text": "no address", "ts": "1.2", "user": "U9"}
            bodies.append(
                message_shortcut_body(
                    shortcut["callback_id"], message, response_url=bot.slack.new_response_url()
                )
            )
    for body in bodies:
        assert post_signed_sync(bot.http, bot.events_url, body).status_code == 200, body


def test_home_and_messages_tabs_are_enabled() -> None:
    app_home = manifest()["features"]["app_home"]
    assert app_home["home_tab_enabled"] is True
    assert app_home["messages_tab_enabled"] is True
    # Answers arrive in the Messages tab; nobody types to the bot there (no message.im event).
    assert app_home["messages_tab_read_only_enabled"] is True
    assert "im:write" in manifest()["oauth_config"]["scopes"]["bot"]


def test_socket_mode_and_interactivity_on() -> None:
    settings = manifest()["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True


def test_only_the_scopes_the_readme_justifies() -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    readme = (ROOT / "README.md").read_text()
    for scope in scopes:
        assert f"`{scope}`" in readme, f"scope {scope} is not justified in the README"
    assert len(scopes) == len(set(scopes))


def test_procfile_runs_http_mode_on_port() -> None:
    lines = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert lines["web"].strip() == "python -m bot serve --host 0.0.0.0 --port $PORT"


def test_the_bots_name_in_replies_is_its_display_name() -> None:
    from bot.rendering.ids import BOT_NAME

    assert manifest()["features"]["bot_user"]["display_name"] == BOT_NAME


def test_every_shortcut_callback_id_is_one_the_bot_knows() -> None:
    from bot.rendering.ids import CallbackId

    declared = {s["callback_id"] for s in manifest()["features"]["shortcuts"]}
    assert declared == {CallbackId.MESSAGE_SHORTCUT, CallbackId.GLOBAL_SHORTCUT}
