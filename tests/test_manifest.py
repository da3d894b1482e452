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
    assert events == ["app_mention", "app_home_opened", "function_executed"]


def test_every_declared_event_and_shortcut_has_a_listener(start_bot: Any, sandbox: Any) -> None:
    """Bolt answers 404 to what no listener takes, and Slack retries and may then disable
    delivery: every subscribed event and every shortcut must be answered 200."""
    from bot.demo.slack_requests import (
        event_callback_body,
        function_executed_body,
        global_shortcut_body,
        message_shortcut_body,
        post_signed_sync,
    )

    bot = start_bot()
    bodies = []
    for number, event in enumerate(manifest()["settings"]["event_subscriptions"]["bot_events"]):
        if event == "function_executed":
            for callback_id in manifest()["functions"]:
                bodies.append(
                    function_executed_body(
                        {"customer_email": "nobody@example.com"},
                        bot_access_token=bot.slack.new_function_token(),
                        callback_id=callback_id,
                        event_id=f"EvManifest{number}{callback_id}",
                    )
                )
            continue
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


# --- the Workflow Builder step ------------------------------------------------------------

# Slack's manifest schema (major version 1, slackapi/manifest-schema): the keys each level
# allows, and the types a function parameter may have.
SCHEMA_TOP_LEVEL = {
    "$schema",
    "_metadata",
    "app_directory",
    "display_information",
    "features",
    "oauth_config",
    "settings",
    "functions",
    "workflows",
    "datastores",
    "outgoing_domains",
    "types",
    "external_auth_providers",
}
SCHEMA_SETTINGS = {
    "allowed_ip_address_ranges",
    "event_subscriptions",
    "incoming_webhooks",
    "interactivity",
    "org_deploy_enabled",
    "socket_mode_enabled",
    "is_hosted",
    "token_rotation_enabled",
    "siws_links",
    "hermes_app_type",
    "function_runtime",
    "is_mcp_enabled",
}
SCHEMA_FUNCTION = {"title", "description", "input_parameters", "output_parameters"}
SCHEMA_PARAMETER = {"type", "title", "description", "is_required", "is_hidden", "hint", "name"}
SLACK_PARAMETER_TYPES = {
    "integer",
    "number",
    "boolean",
    "string",
    "object",
    "array",
    "slack#/types/user_id",
    "slack#/types/channel_id",
    "slack#/types/usergroup_id",
    "slack#/types/timestamp",
    "slack#/types/date",
    "slack#/types/rich_text",
}


def test_the_manifest_keeps_to_slacks_schema_for_functions() -> None:
    loaded = manifest()
    assert "_metadata" not in loaded, "the functions map below is the major version 1 form"
    assert set(loaded) <= SCHEMA_TOP_LEVEL
    assert set(loaded["settings"]) <= SCHEMA_SETTINGS
    assert isinstance(loaded["settings"]["function_runtime"], str)
    assert 1 <= len(loaded["functions"]) <= 50
    for declared in loaded["functions"].values():
        assert set(declared) == SCHEMA_FUNCTION
        assert all(
            isinstance(declared[key], str) and declared[key] for key in ("title", "description")
        )
        for group in ("input_parameters", "output_parameters"):
            assert isinstance(declared[group], dict) and len(declared[group]) <= 50
            for name, parameter in declared[group].items():
                assert set(parameter) <= SCHEMA_PARAMETER, name
                assert parameter["type"] in SLACK_PARAMETER_TYPES, name
                assert parameter["name"] == name
                assert isinstance(parameter["is_required"], bool), name


def test_the_lookup_step_is_declared_as_the_public_contract_says() -> None:
    from bot.rendering.step_outputs import COUNT_OUTPUTS, SEAT_OUTPUTS, TEXT_OUTPUTS
    from bot.slack.steps.lookup_step import CALLBACK_ID

    settings = manifest()["settings"]
    assert settings["function_runtime"] == "remote"
    assert settings["org_deploy_enabled"] is True
    step = manifest()["functions"][CALLBACK_ID]
    inputs = {name: (p["type"], p["is_required"]) for name, p in step["input_parameters"].items()}
    assert inputs == {
        "customer_email": ("string", True),
        "product": ("string", False),
        "search": ("string", False),
        "requested_by": ("slack#/types/user_id", False),
    }
    outputs = {name: (p["type"], p["is_required"]) for name, p in step["output_parameters"].items()}
    assert outputs == {
        **dict.fromkeys(TEXT_OUTPUTS, ("string", True)),
        **dict.fromkeys(COUNT_OUTPUTS, ("integer", True)),
        **dict.fromkeys(SEAT_OUTPUTS, ("integer", False)),
    }
    assert set(TEXT_OUTPUTS) == {"customer_name", "customer_email", "summary"}
    assert set(COUNT_OUTPUTS) == {
        "users",
        "active_users",
        "activations_used",
        "activations_max",
        "at_activation_limit",
        "on_initial_password",
    }
