"""manifest.yml and Procfile agree with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.slack.parsing import COMMAND

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


def test_shortcut_and_mention_event_are_declared() -> None:
    from bot.slack.threads import SHORTCUT_CALLBACK_ID

    shortcuts = manifest()["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"]) for s in shortcuts] == [("message", SHORTCUT_CALLBACK_ID)]
    assert manifest()["settings"]["event_subscriptions"]["bot_events"] == ["app_mention"]


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
