"""One failure path: before the ack the handler answers in the ack; after it, through the
replier (a modal still open shows the failure and the reference), returning nothing to Bolt."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Actor
from bot.rendering.blocks import Message
from bot.rendering.metadata import FormOrigin
from bot.rendering.modals import (
    CHANNEL_BLOCK,
    EMAIL_BLOCK,
    PRODUCT_BLOCK,
    THRESHOLD_BLOCK,
    lookup_modal,
    watch_modal,
)
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.slack.app import on_error
from bot.slack.core.errors import BadInput
from bot.slack.core.replier import Replier
from tests.slack_harness import BotFactory, RunningBot
from tests.test_deadline import HANG, PATIENT

ORIGIN = FormOrigin(user="U111", origin="shortcut")
VIEW_BODY = {"type": "view_submission", "view": {"id": "V9", "callback_id": "lookup_modal"}}


class Recorder(Replier):
    """A replier that records instead of calling Slack."""

    def __init__(self) -> None:
        super().__init__(
            client=AsyncWebClient(token="xoxb-unused"), actor=None, response_url=None, session=None
        )
        self.sent: list[tuple[str, Any]] = []

    async def update_modal(self, view_id: str, view: dict[str, Any]) -> None:
        self.sent.append((view_id, view))

    async def private(self, message: Message, *, replace: bool = False) -> bool:
        self.sent.append(("private", message))
        return True


async def test_before_the_ack_a_failed_submission_answers_in_the_ack() -> None:
    replier = Recorder()
    context = {"reference": "ref1", "replier": replier}
    answer = await on_error(RuntimeError("x"), VIEW_BODY, context, BoltResponse(status=500))
    assert answer is not None and answer.status == 200
    body = json.loads(answer.body)
    assert body["response_action"] == "update" and "ref1" in json.dumps(body["view"])
    assert replier.sent == []


async def test_after_the_ack_a_failed_submission_updates_the_modal_and_returns_nothing() -> None:
    replier = Recorder()
    context = {"reference": "ref2", "replier": replier}
    assert await on_error(RuntimeError("x"), VIEW_BODY, context, None) is None
    [(view_id, view)] = replier.sent
    assert view_id == "V9" and "ref2" in json.dumps(view)


async def test_after_the_ack_a_command_failure_is_told_privately_and_returns_nothing() -> None:
    replier = Recorder()
    context = {"reference": "ref3", "replier": replier, "actor": Actor("U1", "C1")}
    body = {"command": "/license-users", "text": "x"}
    assert await on_error(BadInput(":x: no"), body, context, None) is None
    [(kind, message)] = replier.sent
    assert kind == "private" and message.text == ":x: no"


# --- over the real app ----------------------------------------------------------------------


def _updates(bot: RunningBot, count: int, timeout: float) -> list[dict[str, Any]]:
    calls = bot.slack.wait_for_calls("views.update", count, timeout=timeout)
    return [call.args["view"] for call in calls]


def test_a_lookup_form_whose_lookup_fails_shows_the_failure_and_reference_in_time(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(lookup_deadline=2.0, **PATIENT)
    sandbox.set_fault(**HANG)
    started = time.monotonic()
    form = {PRODUCT_BLOCK: "acme-desktop", EMAIL_BLOCK: seed.TYPICAL}
    ack = bot.submit(lookup_modal([], None, ORIGIN), form).json()
    assert "Looking up" in json.dumps(ack["view"])
    [view] = _updates(bot, 1, timeout=5)
    elapsed = time.monotonic() - started
    sandbox.clear_faults()
    text = json.dumps(view)
    assert "did not answer" in text and "Reference" in text
    assert elapsed < 3.5
    assert bot.slack.calls("conversations.open") == []  # a failure is not sent to the DM


def test_a_watch_form_whose_work_fails_after_the_ack_is_not_left_spinning(
    start_bot: BotFactory, sandbox: SandboxState, tmp_path: Path
) -> None:
    database = tmp_path / "broken.db"
    bot = start_bot(database_url=f"sqlite:///{database}")
    bot.slack.set_channel(CHANNEL := "CFORM")
    with sqlite3.connect(database) as conn:  # the store breaks under the running bot
        conn.execute("DROP TABLE watch_keys")
        conn.execute("DROP TABLE sent_alerts")
        conn.execute("DROP TABLE watches")
    form = {
        PRODUCT_BLOCK: "acme-desktop",
        EMAIL_BLOCK: seed.TYPICAL,
        CHANNEL_BLOCK: CHANNEL,
        THRESHOLD_BLOCK: "80",
    }
    ack = bot.submit(watch_modal([], None, ORIGIN), form).json()
    assert "Setting up" in json.dumps(ack["view"])
    [view] = _updates(bot, 1, timeout=10)
    text = json.dumps(view)
    assert "Something went wrong" in text and "Reference" in text
