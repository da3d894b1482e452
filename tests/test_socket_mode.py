"""`python -m bot socket` against a local Socket Mode end: commands, acks, a dropped socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

from bot.demo.fake_slack import FakeSlack
from bot.demo.slack_requests import function_executed_body, slash_command_body
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.support.leaks import scan_process_output


def command_payload(fake_slack: FakeSlack, text: str) -> tuple[dict[str, str], str]:
    response_url = fake_slack.new_response_url()
    payload = dict(parse_qsl(slash_command_body(text, response_url=response_url)))
    return payload, response_url.rsplit("/", 1)[1]


def wait_for_connections(fake_slack: FakeSlack, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while fake_slack.socket.connections < count:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the bot did not (re)connect"
        time.sleep(0.05)


def test_socket_mode_answers_commands_and_survives_a_dropped_socket(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSESPRING_"))},
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_APP_TOKEN": fake_slack.app_token,
        "SLACK_API_URL": fake_slack.api_url,
        "LICENSESPRING_API_URL": sandbox_url,
        "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
        "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
        "LOG_FORMAT": "json",
    }
    connected_before = fake_slack.socket.connections
    # `python -m bot` alone picks Socket Mode when an app token is set.
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_connections(fake_slack, connected_before + 1, process)
        payload, rid = command_payload(fake_slack, f"acme-desktop {seed.TYPICAL}")
        envelope = fake_slack.socket.send("slash_commands", payload)
        ack = fake_slack.socket.wait_for_ack(envelope)
        assert "Looking up" in ack["text"]
        answer = fake_slack.wait_for_responses(1, response_id=rid, timeout=10)[-1].body
        assert "8 users" in answer["text"]

        fake_slack.socket.disconnect()  # Slack refreshes or drops the connection
        wait_for_connections(fake_slack, connected_before + 2, process)
        payload, rid = command_payload(fake_slack, f"acme-desktop {seed.AT_LIMIT}")
        envelope = fake_slack.socket.send("slash_commands", payload)
        fake_slack.socket.wait_for_ack(envelope)
        answer = fake_slack.wait_for_responses(1, response_id=rid, timeout=10)[-1].body
        assert "3 at limit" in answer["text"]

        # The Workflow Builder step over the socket, completed with the execution's token.
        token = fake_slack.new_function_token()
        inputs = {"customer_email": seed.TYPICAL, "product": "acme-desktop"}
        body = function_executed_body(inputs, bot_access_token=token, event_id="EvSocketStep")
        envelope = fake_slack.socket.send("events_api", json.loads(body))
        fake_slack.socket.wait_for_ack(envelope)
        done = fake_slack.wait_for_completion("Fx1", timeout=10)
        assert (done.method, done.token) == ("functions.completeSuccess", token)
        assert done.args["outputs"]["users"] == 8
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
        scan_process_output("python -m bot socket", stdout, stderr)
    assert "Traceback" not in stderr
    assert process.returncode == 0, stderr
    assert '"event": "stopped"' in stderr
