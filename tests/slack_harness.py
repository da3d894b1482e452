"""The real bot (Starlette + Bolt, uvicorn) on loopback, wired to the sandbox and fake Slack."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from bot.demo.servers import serve_in_thread
from bot.demo.slack_requests import (
    app_home_opened_body,
    block_action_body,
    event_callback_body,
    function_executed_body,
    global_shortcut_body,
    message_shortcut_body,
    post_signed_sync,
    select_action_body,
    slash_command_body,
    view_block_action_body,
    view_submission_body,
)
from bot.runtime import start_runtime
from bot.server import create_server


@dataclass
class RunningBot:
    url: str
    slack: FakeSlack
    http: httpx.Client
    server: Any = None  # the Starlette app; `server.state.runtime` once started
    _events: int = 0

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

    def choose(
        self, action_id: str, block_id: str, value: str, **fields: Any
    ) -> tuple[httpx.Response, str]:
        """Pick `value` in the static_select `action_id` of the block `block_id`."""
        response_url = self.slack.new_response_url()
        body = select_action_body(action_id, block_id, value, response_url=response_url, **fields)
        return post_signed_sync(self.http, self.events_url, body), response_url

    def mention(
        self,
        text: str,
        *,
        event_id: str = "Ev1",
        channel: str = "C111",
        user: str = "U111",
        ts: str = "1700000100.000100",
        thread_ts: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": f"<@UBOT> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return post_signed_sync(
            self.http,
            self.events_url,
            event_callback_body(event, event_id=event_id),
            extra_headers=extra if retry_num else None,
        )

    def shortcut(
        self,
        text: str,
        *,
        ts: str = "1700000200.000100",
        thread_ts: str | None = None,
        **fields: Any,
    ) -> tuple[httpx.Response, str]:
        response_url = self.slack.new_response_url()
        message: dict[str, Any] = {"type": "message", "text": text, "ts": ts, "user": "U999"}
        if thread_ts:
            message["thread_ts"] = thread_ts
        body = message_shortcut_body(
            "lookup_license_users", message, response_url=response_url, **fields
        )
        return post_signed_sync(self.http, self.events_url, body), response_url

    def submit_view(
        self, view: dict[str, Any], *, user_id: str = "U111", **values: str
    ) -> httpx.Response:
        state = {
            block: {action: {"type": "static_select", "selected_option": {"value": value}}}
            for block, (action, value) in {
                "product": ("product_choice", values.get("product", "")),
            }.items()
        }
        payload = {
            "type": "view_submission",
            "team": {"id": "T1", "domain": "test"},
            "user": {"id": user_id, "username": "u", "name": "u", "team_id": "T1"},
            "api_app_id": "A111",
            "token": "verification-token",
            "trigger_id": "123.456",
            "view": {**view, "id": "V1", "state": {"values": state}},
        }
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        return post_signed_sync(self.http, self.events_url, body)

    def open_home(
        self, user_id: str = "U111", *, tab: str = "home", event_id: str | None = None
    ) -> httpx.Response:
        """A signed app_home_opened event (a fresh event_id unless given)."""
        self._events += 1
        body = app_home_opened_body(
            user_id, tab=tab, event_id=event_id or f"EvHome{self._events}-{id(self)}"
        )
        return post_signed_sync(self.http, self.events_url, body)

    def press_in_view(
        self, action_id: str, value: str, view: dict[str, Any], *, user_id: str = "U111"
    ) -> httpx.Response:
        """A button pressed on a published App Home or an open modal."""
        body = view_block_action_body(action_id, value, view=view, user_id=user_id)
        return post_signed_sync(self.http, self.events_url, body)

    def global_shortcut(self, callback_id: str, *, user_id: str = "U111") -> httpx.Response:
        body = global_shortcut_body(callback_id, user_id=user_id)
        return post_signed_sync(self.http, self.events_url, body)

    def submit(
        self, view: dict[str, Any], values: dict[str, Any] | None = None, *, user_id: str = "U111"
    ) -> httpx.Response:
        """Submit a modal as opened (``view`` from views.open) with ``values`` per block_id."""
        body = view_submission_body(view, values, user_id=user_id)
        return post_signed_sync(self.http, self.events_url, body)

    def run_step(
        self,
        inputs: dict[str, Any],
        *,
        execution_id: str = "Fx1",
        workflow_execution_id: str = "Wf1",
        event_id: str | None = None,
        token: str | None = None,
    ) -> tuple[httpx.Response, str]:
        """A signed `function_executed` for the step; returns the ack and the execution's
        token (a fresh one unless given: a redelivery carries the same)."""
        token = token or self.slack.new_function_token()
        body = function_executed_body(
            inputs,
            bot_access_token=token,
            function_execution_id=execution_id,
            workflow_execution_id=workflow_execution_id,
            event_id=event_id or f"Ev{execution_id}",
        )
        return post_signed_sync(self.http, self.events_url, body), token

    def final_response(self, response_url: str, count: int = 1) -> dict[str, Any]:
        rid = response_url.rsplit("/", 1)[1]
        return self.slack.wait_for_responses(count, response_id=rid, timeout=10)[-1].body


BotFactory = Callable[..., RunningBot]


@contextmanager
def running_bot(settings: Settings, slack: FakeSlack) -> Iterator[RunningBot]:
    server = create_server(lambda: start_runtime(settings))
    with serve_in_thread(server) as url, httpx.Client(timeout=10) as http:
        yield RunningBot(url=url, slack=slack, http=http, server=server)
