"""The demo's running system: the sandbox, a local Slack stand-in and the real bot, on loopback,
and a session that sends Slack-signed commands to it."""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.config import Settings
from bot.demo.fake_slack import FakeSlack, running_fake_slack
from bot.demo.servers import free_port, serve_in_thread
from bot.demo.slack_requests import post_signed_sync, slash_command_body
from bot.rendering.blocks import Message, render_notice
from bot.runtime import start_runtime
from bot.sandbox import seed
from bot.sandbox.app import create_sandbox_app
from bot.sandbox.webhooks import DEFAULT_HEADER, WebhookTarget
from bot.server import create_server
from bot.webhooks.endpoint import WEBHOOK_PATH

RESPONSE_TIMEOUT_S = 15.0


@dataclass
class DemoSession:
    slack: FakeSlack
    events_url: str
    signing_secret: str
    http: httpx.Client
    sandbox_url: str = ""

    def send(self, text: str) -> tuple[Message, float, float]:
        """One signed command; returns the final message, ack ms and answer ms."""
        response_url = self.slack.new_response_url()
        body = slash_command_body(text, response_url=response_url, user_id="UDEMO")
        started = time.perf_counter()
        ack = post_signed_sync(self.http, self.events_url, body, secret=self.signing_secret)
        ack_ms = (time.perf_counter() - started) * 1000
        ack.raise_for_status()
        acked = ack.json() if ack.content else {}
        if "Looking up" not in str(acked.get("text", "")):
            return render_notice(str(acked.get("text", ""))), ack_ms, ack_ms
        rid = response_url.rsplit("/", 1)[1]
        delivered = self.slack.wait_for_responses(1, response_id=rid, timeout=RESPONSE_TIMEOUT_S)
        answer_ms = (time.perf_counter() - started) * 1000
        final = delivered[-1].body
        return (
            Message(text=str(final.get("text", "")), blocks=list(final.get("blocks", []))),
            ack_ms,
            answer_ms,
        )


@contextmanager
def demo_session(settings: Settings) -> Iterator[DemoSession]:
    signing_secret = secrets.token_hex(16)
    webhook_secret = secrets.token_hex(16)
    bot_port = free_port()
    with ExitStack() as stack:
        database = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "demo.db"
        # The sandbox signs and sends webhooks to the bot, as LicenseSpring would.
        webhooks = WebhookTarget(
            f"http://127.0.0.1:{bot_port}{WEBHOOK_PATH}", webhook_secret, DEFAULT_HEADER
        )
        sandbox_url = stack.enter_context(serve_in_thread(create_sandbox_app(webhooks=webhooks)))
        slack = stack.enter_context(running_fake_slack(bot_token="xoxb-demo-" + "0" * 4))
        bot_settings = settings.model_copy(
            update={
                "slack_bot_token": _secret(slack.bot_token),
                "slack_signing_secret": _secret(signing_secret),
                "slack_app_token": None,
                "slack_api_url": slack.api_url,
                "licensespring_api_url": sandbox_url,
                "licensespring_api_key": _secret(seed.SANDBOX_API_KEY),
                "licensespring_shared_key": _secret(seed.SANDBOX_SHARED_KEY),
                "licensespring_client_id": None,
                "licensespring_client_secret": None,
                "licensespring_products": list(seed.USER_PRODUCTS),
                "default_product": seed.USER_PRODUCTS[0],
                "database_url": f"sqlite+aiosqlite:///{database}",
                "licensespring_webhook_secret": _secret(webhook_secret),
                "alert_poll_interval": 3600,  # every alert in the demo comes from a webhook
            }
        )
        bot_url = stack.enter_context(
            serve_in_thread(
                create_server(lambda: start_runtime(bot_settings, with_worker=True)),
                port=bot_port,
            )
        )
        http = stack.enter_context(httpx.Client(timeout=RESPONSE_TIMEOUT_S))
        yield DemoSession(slack, f"{bot_url}/slack/events", signing_secret, http, sandbox_url)


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)
