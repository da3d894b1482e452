"""The real bot (Starlette + Bolt, uvicorn) on loopback, wired to the sandbox and fake Slack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Settings
from bot.devtools.fake_slack import FakeSlack
from bot.devtools.servers import serve_in_thread
from bot.devtools.slack_requests import (
    block_action_body,
    post_signed_sync,
    slash_command_body,
)
from bot.licensespring.client import LicenseApiClient
from bot.server import create_server
from bot.slack.app import build_web_client, create_app


@dataclass
class RunningBot:
    url: str
    slack: FakeSlack
    http: httpx.Client

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def command(self, text: str, **fields: Any) -> tuple[httpx.Response, str]:
        """Send a signed slash command; returns the ack and the response_url it carried."""
        response_url = self.slack.new_response_url()
        body = slash_command_body(text, response_url=response_url, **fields)
        return post_signed_sync(self.http, self.events_url, body), response_url

    def press(self, action_id: str, value: str, **fields: Any) -> tuple[httpx.Response, str]:
        response_url = self.slack.new_response_url()
        body = block_action_body(
            action_id, value, response_url=response_url, is_ephemeral=True, **fields
        )
        return post_signed_sync(self.http, self.events_url, body), response_url

    def final_response(self, response_url: str, count: int = 1) -> dict[str, Any]:
        rid = response_url.rsplit("/", 1)[1]
        return self.slack.wait_for_responses(count, response_id=rid, timeout=10)[-1].body


BotFactory = Callable[..., RunningBot]


@contextmanager
def running_bot(settings: Settings, slack: FakeSlack) -> Iterator[RunningBot]:
    client = LicenseApiClient.from_settings(settings)
    app = create_app(settings, licensespring=client, web_client=build_web_client(settings))
    server = create_server(app, on_shutdown=client.aclose)
    with serve_in_thread(server) as url, httpx.Client(timeout=10) as http:
        yield RunningBot(url=url, slack=slack, http=http)
