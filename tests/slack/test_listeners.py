"""Listener-level tests: each listener called as Bolt calls it, with its context by name.

Fast and without a network: the sandbox License API answers in-process (httpx's ASGI
transport), the store is a SQLite file, and the replier records what would reach Slack. The
end-to-end tests (real app over loopback, signed requests, fake Slack) cover the same listeners
through HTTP; these pin each listener's own job.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import httpx
import pytest

from bot.audit import Actor, Auditor
from bot.licensespring.client import LicenseApiClient
from bot.lookup import LookupService
from bot.rendering.blocks import ListState, Message, state_value
from bot.rendering.ids import ActionId, CallbackId
from bot.sandbox import seed
from bot.sandbox.app import create_sandbox_app
from bot.slack.answers import paging, sharing
from bot.slack.answers import state as answer_state
from bot.slack.commands import listener as commands
from bot.slack.core.channels import ChannelMembers
from bot.slack.core.errors import BadInput, NotConfigured, StaleButton, UpstreamFailed
from bot.slack.core.policy import Reader
from bot.slack.core.services import Services
from bot.slack.home import listeners as apphome
from bot.slack.modals import listeners as forms
from bot.slack.threads import listeners as threads
from bot.slack.watches import listeners as watching
from bot.store import Store
from bot.tasks import TaskTracker
from bot.watches import WatchLifecycle
from tests.conftest import sandbox_settings

PRODUCT = "acme-desktop"
ACTOR = Actor("U1", "C1", team="T1", thread_ts="100.1")


class RecordingReplier:
    """Stands in for `bot.slack.core.replier.Replier`: records what would go to Slack."""

    def __init__(self, actor: Actor | None = ACTOR) -> None:
        self.actor = actor
        self.client = AsyncMock()
        self.sent: list[tuple[str, Any]] = []

    async def private(self, message: Message, *, replace: bool = False) -> bool:
        self.sent.append(("private", message))
        return True

    async def visible(self, message: Message, *, replace: bool = False) -> bool:
        self.sent.append(("visible", message))
        return True

    async def in_thread(self, message: Message, **where: Any) -> str:
        self.sent.append(("thread", message))
        return "200.1"

    async def direct_message(self, message: Message, *, user: str | None = None) -> str:
        self.sent.append(("dm", message))
        return "D1"

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.sent.append(("open_modal", view))

    async def update_modal(self, view_id: str, view: dict[str, Any]) -> None:
        self.sent.append(("update_modal", view))

    async def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        self.sent.append(("home", view))
        return True

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent]

    def text(self) -> str:
        return json.dumps([getattr(m, "blocks", m) for _, m in self.sent], ensure_ascii=False)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = sandbox_settings(
        "http://sandbox.invalid",
        licensespring_products=[PRODUCT, "acme-cli"],
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
    )
    transport = httpx.ASGITransport(app=create_sandbox_app())
    client = LicenseApiClient.from_settings(settings, transport=transport)
    store = await Store.open(settings.database_url)
    auditor = Auditor(store)
    lookups = LookupService(client, auditor, deadline_s=settings.lookup_deadline)
    yield Services(
        settings=settings,
        lookups=lookups,
        auditor=auditor,
        store=store,
        tasks=TaskTracker(),
        watches=WatchLifecycle(store, lookups, auditor),
        members=ChannelMembers(AsyncMock()),
    )
    await client.aclose()
    await store.close()


def button(action_id: str, value: str) -> dict[str, Any]:
    return {"type": "block_actions", "actions": [{"action_id": action_id, "value": value}]}


def asked(read: Reader, body: dict[str, Any], services: Services, actor: Actor = ACTOR) -> Any:
    """What the surface's reader makes of a payload: what Bolt hands the listener as `asked`."""
    return read(body, actor, services.settings).asked


def command(text: str, services: Services) -> Any:
    return asked(commands.read_command, {"command": "/license-users", "text": text}, services)


# --- commands ---------------------------------------------------------------------------------


async def test_command_help_is_the_ack(services: Services) -> None:
    ack, replier = AsyncMock(), RecordingReplier()
    await commands.license_users(ack, command("help", services), ACTOR, "ref1", replier, services)
    assert "watch" in ack.call_args.kwargs["text"]
    assert replier.sent == []


async def test_command_lookup_acks_then_answers_privately_in_place(services: Services) -> None:
    ack, replier = AsyncMock(), RecordingReplier()
    text = f"{PRODUCT} {seed.TYPICAL}"
    await commands.license_users(ack, command(text, services), ACTOR, "ref1", replier, services)
    assert "Looking up" in ack.call_args.kwargs["text"]
    assert replier.kinds() == ["private"]
    assert "Analytical Engines" in replier.text()


async def test_command_unwatch_of_nothing_is_bad_input(services: Services) -> None:
    ack, replier = AsyncMock(), RecordingReplier()
    with pytest.raises(BadInput):
        await commands.license_users(
            ack, command("unwatch 99", services), ACTOR, "r", replier, services
        )


# --- buttons -----------------------------------------------------------------------------------


def state(page: int = 0) -> str:
    return state_value(ListState(PRODUCT, seed.TYPICAL, page))


async def test_page_replaces_the_answer(services: Services) -> None:
    ack, replier = AsyncMock(), RecordingReplier()
    pressed = asked(answer_state.read_private, button(ActionId.PAGE_NEXT, state()), services)
    await paging.page(ack, pressed, ACTOR, "r", replier, services)
    ack.assert_awaited_once()
    assert replier.kinds() == ["private"]


async def test_a_stale_button_is_a_typed_error(services: Services) -> None:
    with pytest.raises(StaleButton):
        await paging.page(
            AsyncMock(),
            asked(answer_state.read_private, button(ActionId.PAGE_NEXT, "junk"), services),
            ACTOR,
            "r",
            RecordingReplier(),
            services,
        )


async def test_share_posts_visibly_and_audits(services: Services) -> None:
    replier = RecordingReplier()
    pressed = asked(answer_state.read_in_channel, button(ActionId.SHARE, state()), services)
    await sharing.share(AsyncMock(), pressed, ACTOR, "r", replier, services)
    assert replier.kinds() == ["visible"]
    assert "Shared by <@U1>" in replier.text()
    assert services.store is not None
    rows = await services.store.recent_audit("U1")
    assert {row.action for row in rows} == {"lookup", "share"}


async def test_share_of_an_unknown_customer_is_upstream_failed(services: Services) -> None:
    value = state_value(ListState(PRODUCT, "nobody@example.com", 0))
    with pytest.raises(UpstreamFailed):
        await sharing.share(
            AsyncMock(),
            asked(answer_state.read_in_channel, button(ActionId.SHARE, value), services),
            ACTOR,
            "r",
            RecordingReplier(),
            services,
        )


async def test_escalate_without_a_channel_is_not_configured(services: Services) -> None:
    with pytest.raises(NotConfigured):
        await sharing.escalate(
            AsyncMock(),
            asked(answer_state.read_escalation, button(ActionId.ESCALATE, state()), services),
            ACTOR,
            "r",
            RecordingReplier(),
            services,
        )


async def test_retry_says_looking_up_then_answers(services: Services) -> None:
    replier = RecordingReplier()
    pressed = asked(answer_state.read_private, button(ActionId.RETRY, state()), services)
    await paging.retry(AsyncMock(), pressed, ACTOR, "r", replier, services)
    assert replier.kinds() == ["private", "private"]
    assert "again" in replier.sent[0][1].text


# --- threads -------------------------------------------------------------------------------


async def test_a_mention_replies_in_its_thread(services: Services) -> None:
    replier = RecordingReplier()
    event = {"type": "app_mention", "text": f"<@UBOT> {PRODUCT} {seed.TYPICAL}"}
    mention = asked(threads.read_mention, {"event": event}, services)
    await threads.on_mention(mention, ACTOR, "r", replier, services)
    assert replier.kinds() == ["thread"]


async def test_a_shortcut_on_a_message_without_an_e_mail_is_bad_input(services: Services) -> None:
    shortcut = {"type": "message_action", "message": {"text": "no address here"}}
    with pytest.raises(BadInput):
        await threads.on_shortcut(
            AsyncMock(),
            asked(threads.read_shortcut, shortcut, services),
            ACTOR,
            "r",
            RecordingReplier(),
            services,
        )


async def test_a_shortcut_with_several_products_asks_which_one(services: Services) -> None:
    replier = RecordingReplier()
    shortcut = {"message": {"text": f"see {seed.TYPICAL}"}, "trigger_id": "t1"}
    pressed = asked(threads.read_shortcut, shortcut, services)
    await threads.on_shortcut(AsyncMock(), pressed, ACTOR, "r", replier, services)
    [(kind, view)] = replier.sent
    assert kind == "open_modal" and view["callback_id"] == CallbackId.PRODUCT_MODAL


# --- alert buttons, App Home, forms ------------------------------------------------------


async def test_snooze_of_a_watch_that_is_gone_says_so(services: Services) -> None:
    replier = RecordingReplier()
    pressed = asked(watching.read_watch_button, button(ActionId.SNOOZE, "42"), services)
    await watching.snooze(AsyncMock(), pressed, ACTOR, replier, services)
    assert "no longer exists" in replier.text()


async def test_the_home_tab_is_published_and_the_messages_tab_is_not(services: Services) -> None:
    replier = RecordingReplier()
    for tab in ("messages", "home"):
        opened = asked(apphome.read_home_opened, {"event": {"tab": tab}}, services)
        await apphome.on_home_opened(opened, ACTOR, replier, services)
        if tab == "messages":
            assert replier.sent == []
    assert replier.kinds() == ["home"]


async def test_the_global_shortcut_opens_the_lookup_modal(services: Services) -> None:
    replier = RecordingReplier(Actor("U1", None))
    await forms.on_global_shortcut(AsyncMock(), "t1", Actor("U1", None), replier, services)
    [(kind, view)] = replier.sent
    assert kind == "open_modal" and view["callback_id"] == CallbackId.LOOKUP_MODAL


async def test_a_form_submitted_by_someone_else_is_refused_in_the_modal(services: Services) -> None:
    opened = RecordingReplier()
    await forms.on_global_shortcut(AsyncMock(), "t1", ACTOR, opened, services)
    view = {**opened.sent[0][1], "id": "V1", "state": {"values": {}}}
    ack = AsyncMock()
    other = Actor("U2", None)
    submitted = asked(forms.read_lookup_submission, {"view": view}, services, other)
    await forms.on_lookup_submitted(ack, submitted, other, "r", RecordingReplier(other), services)
    assert ack.call_args.kwargs["response_action"] == "update"
    assert "someone else" in json.dumps(ack.call_args.kwargs["view"])
