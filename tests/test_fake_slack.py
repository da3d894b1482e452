"""The fake Slack and the signed-request helpers work with the real slack_sdk and slack_bolt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.demo.fake_slack import FakeSlack, running_fake_slack
from bot.demo.servers import serve_in_thread
from bot.demo.slack_requests import (
    SIGNING_SECRET,
    block_action_body,
    event_callback_body,
    message_shortcut_body,
    post_signed,
    post_signed_sync,
    sign_body,
    slash_command_body,
)

TOKEN = "xoxb-test-token"
BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "*hi*"}},
    {
        "type": "actions",
        "block_id": "a1",
        "elements": [
            {
                "type": "button",
                "action_id": "more",
                "text": {"type": "plain_text", "text": "Show more"},
                "value": "page-2",
            }
        ],
    },
]


@pytest.fixture(scope="module")
def served() -> Iterator[FakeSlack]:
    with running_fake_slack(TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(served: FakeSlack) -> FakeSlack:
    served.reset()
    return served


def web_client(fake: FakeSlack, token: str = TOKEN, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.api_url, **kwargs)


async def test_post_message_is_recorded_with_decoded_blocks(fake: FakeSlack) -> None:
    client = web_client(fake)
    first = await client.chat_postMessage(channel="C1", text="hello", blocks=BLOCKS)
    second = await client.chat_postMessage(channel="C1", text="again")

    assert first["ok"] is True
    assert first["channel"] == "C1"
    assert first["ts"] == "1700000000.000100"
    assert second["ts"] == "1700000000.000200"
    assert first["message"]["blocks"] == BLOCKS
    [call, _] = fake.wait_for_calls("chat.postMessage", count=2)
    assert call.args["blocks"] == BLOCKS
    assert call.args["text"] == "hello"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.token == TOKEN


async def test_form_encoded_json_fields_and_get_params_are_decoded(fake: FakeSlack) -> None:
    client = web_client(fake)
    await client.api_call(
        "chat.update", data={"channel": "C1", "ts": "1.2", "blocks": json.dumps(BLOCKS)}
    )
    info = await client.conversations_info(channel="C1")
    [update] = fake.calls("chat.update")
    assert update.args["blocks"] == BLOCKS
    assert update.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert info["channel"] == {
        "id": "C1",
        "name": "channel-c1",
        "is_channel": True,
        "is_member": True,
        "is_archived": False,
    }
    assert fake.calls("conversations.info")[0].http_method == "GET"


async def test_default_answers(fake: FakeSlack) -> None:
    client = web_client(fake)
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T1")
    link = await client.chat_getPermalink(channel="C9", message_ts="1700000000.000100")
    assert link["permalink"] == "https://test.slack.com/archives/C9/p1700000000000100"
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert ephemeral["message_ts"]
    fake.set_usergroup("S1", ["U1", "U2"])
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    view = await client.views_open(
        trigger_id="1.2", view={"type": "modal", "title": {"type": "plain_text", "text": "T"}}
    )
    assert view["view"]["id"].startswith("V")
    fake.set_user("U7", deleted=True)
    user = await client.users_info(user="U7")
    assert (user["user"]["id"], user["user"]["deleted"]) == ("U7", True)
    assert (await client.api_call("reactions.add", params={"name": "x"}))["ok"] is True


async def test_views_and_direct_messages(fake: FakeSlack) -> None:
    client = web_client(fake)
    home = {"type": "home", "blocks": BLOCKS}
    published = await client.views_publish(user_id="U1", view=home)
    assert published["view"]["type"] == "home"
    with pytest.raises(SlackApiError):
        await client.views_publish(user_id="U1", view={"type": "modal", "blocks": []})
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": BLOCKS}
    opened = await client.views_open(trigger_id="1.2", view=modal)
    updated = await client.views_update(view_id=opened["view"]["id"], view=modal)
    assert updated["view"]["id"] == opened["view"]["id"]
    assert (await client.views_push(trigger_id="1.3", view=modal))["view"]["id"].startswith("V")
    dm = await client.conversations_open(users="U1")
    assert dm["channel"]["id"] == "D1" and dm["channel"]["is_im"] is True
    posted = await client.chat_postMessage(channel=dm["channel"]["id"], text="hello")
    assert posted["channel"] == "D1"
    with pytest.raises(SlackApiError):
        await client.conversations_open(users="")
    assert [c.method for c in fake.calls("views.publish")] == ["views.publish"] * 2


async def test_rate_limit_raises_then_retry_handler_succeeds(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as raised:
        await web_client(fake).chat_postMessage(channel="C1", text="hi")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["retry-after"] == "1"
    assert raised.value.response["error"] == "ratelimited"

    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    client = web_client(fake, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    result = await client.chat_postMessage(channel="C1", text="hi")
    assert result["ok"] is True
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 429, 200]


async def test_scripted_errors_resume_normal_answers(fake: FakeSlack) -> None:
    client = web_client(fake)
    fake.fail_next("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel="C1", text="hi")
        assert raised.value.response.status_code == 200
        assert raised.value.response["error"] == "not_in_channel"
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True

    fake.fail_next("conversations.info", status=500)
    with pytest.raises(SlackApiError) as server_error:
        await client.conversations_info(channel="C1")
    assert server_error.value.response.status_code == 500


async def test_channel_membership_and_archival(fake: FakeSlack) -> None:
    client = web_client(fake)
    fake.set_channel("C_OUT", is_member=False)
    fake.set_channel("C_OLD", is_archived=True)
    info = await client.conversations_info(channel="C_OUT")
    assert info["channel"]["is_member"] is False
    with pytest.raises(SlackApiError) as not_member:
        await client.chat_postMessage(channel="C_OUT", text="hi")
    assert not_member.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as archived:
        await client.chat_postMessage(channel="C_OLD", text="hi")
    assert archived.value.response["error"] == "is_archived"

    await client.conversations_join(channel="C_OUT")
    assert (await client.chat_postMessage(channel="C_OUT", text="hi"))["ok"] is True


async def test_invalid_or_missing_token_is_invalid_auth(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await web_client(fake, token="xoxb-wrong").chat_postMessage(channel="C1", text="hi")
    assert raised.value.response["error"] == "invalid_auth"
    async with httpx.AsyncClient() as http:
        anonymous = await http.post(f"{fake.api_url}auth.test")
    assert anonymous.json() == {"ok": False, "error": "invalid_auth"}
    assert len(fake.calls()) == 2


async def test_function_completions_take_the_executions_token_and_are_recorded(
    fake: FakeSlack,
) -> None:
    stranger = web_client(fake, token="xwfp-never-issued")
    with pytest.raises(SlackApiError) as refused:
        await stranger.functions_completeSuccess(function_execution_id="Fx1", outputs={})
    assert refused.value.response["error"] == "invalid_auth"

    token = fake.new_function_token()
    client = web_client(fake, token=token)
    fake.fail_next("functions.completeSuccess", status=500)
    with pytest.raises(SlackApiError):
        await client.functions_completeSuccess(function_execution_id="Fx1", outputs={"n": 1})
    await client.functions_completeSuccess(function_execution_id="Fx1", outputs={"n": 1})
    await client.functions_completeError(function_execution_id="Fx2", error="no")

    done = fake.wait_for_completion("Fx1")
    assert (done.method, done.args["outputs"], done.token) == (
        "functions.completeSuccess",
        {"n": 1},
        token,
    )
    assert [c.status for c in fake.calls("functions.completeSuccess")] == [200, 500, 200]
    assert len(fake.function_completions("Fx1")) == 1
    assert fake.function_completions("Fx2")[0].args["error"] == "no"
    with pytest.raises(AssertionError, match="no completion of Fx3"):
        fake.wait_for_completion("Fx3", timeout=0.1)


async def test_response_url_receive_wait_and_faults(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    response_id = url.rsplit("/", 1)[1]
    sent = await AsyncWebhookClient(url).send(text="hello", response_type="ephemeral")
    assert (sent.status_code, sent.body) == (200, "ok")
    [reply] = fake.wait_for_responses(response_id=response_id)
    assert reply.body == {"text": "hello", "response_type": "ephemeral"}

    fake.fail_response_urls(500)
    failed = await AsyncWebhookClient(url).send(text="again")
    assert failed.status_code == 500
    assert [r.status for r in fake.responses(response_id)] == [200, 500]

    other = fake.new_response_url()
    timer = threading.Timer(0.1, lambda: httpx.post(other, json={"text": "late"}))
    timer.start()
    try:
        late = fake.wait_for_responses(response_id=other.rsplit("/", 1)[1], timeout=3)
    finally:
        timer.join()
    assert late[0].body == {"text": "late"}
    with pytest.raises(AssertionError, match=r"within 0\.05s"):
        fake.wait_for_responses(count=5, timeout=0.05)
    with pytest.raises(AssertionError, match=r"chat\.update"):
        fake.wait_for_calls("chat.update", timeout=0.05)


def test_sign_body_is_valid_for_signature_verifier() -> None:
    body = slash_command_body("acme", response_url="https://example.invalid/r")
    headers = sign_body(body, secret=SIGNING_SECRET)
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert verifier.is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = sign_body(body, secret=SIGNING_SECRET, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = parse_qs(body)
    assert fields["command"] == ["/license-users"]
    assert fields["text"] == ["acme"]


def build_bolt_app(fake: FakeSlack, seen: list[str]) -> Starlette:
    """A minimal Bolt app on the fake: proves the request builders parse the way Slack's do."""
    bolt = AsyncApp(client=web_client(fake), signing_secret=SIGNING_SECRET)

    @bolt.command("/license-users")
    async def command(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen.append(f"command:{body['text']}")
        await respond(text=f"looked up {body['text']}", response_type="ephemeral")

    @bolt.action("more")
    async def more(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        action = body["actions"][0]
        seen.append(f"action:{action['value']}:{action['block_id']}")
        await respond(text="page 2", replace_original=True)

    @bolt.event("app_mention")
    async def mention(event: dict[str, Any], say: Any) -> None:
        seen.append(f"event:{event['text']}")
        await say(text="hi", thread_ts=event["ts"])

    @bolt.shortcut("lookup_message")
    async def shortcut(ack: Any, shortcut: dict[str, Any], respond: Any) -> None:
        await ack()
        seen.append(f"shortcut:{shortcut['message']['text']}")
        await respond(text="from shortcut")

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


async def test_signed_requests_drive_a_bolt_app_over_http(fake: FakeSlack) -> None:
    seen: list[str] = []
    with serve_in_thread(build_bolt_app(fake, seen)) as bot_url:
        events = f"{bot_url}/slack/events"
        async with httpx.AsyncClient(timeout=5) as http:
            command_url = fake.new_response_url()
            body = slash_command_body("acme", response_url=command_url)
            assert (await post_signed(http, events, body)).status_code == 200

            action_url = fake.new_response_url()
            body = block_action_body("more", "page-2", response_url=action_url, blocks=BLOCKS)
            assert (await post_signed(http, events, body)).status_code == 200

            body = event_callback_body(
                {
                    "type": "app_mention",
                    "user": "U111",
                    "text": "<@UBOT> acme",
                    "ts": "1.5",
                    "channel": "C111",
                    "event_ts": "1.5",
                },
                event_id="Ev42",
            )
            assert (await post_signed(http, events, body)).status_code == 200

            shortcut_url = fake.new_response_url()
            message = {"type": "message", "user": "U222", "text": "acme please", "ts": "1.6"}
            body = message_shortcut_body("lookup_message", message, response_url=shortcut_url)
            assert (await post_signed(http, events, body)).status_code == 200

            bad = await post_signed(http, events, body, secret="wrong-secret")
            assert bad.status_code == 401

        [command_reply] = fake.wait_for_responses(response_id=command_url.rsplit("/", 1)[1])
        assert command_reply.body["text"] == "looked up acme"
        [action_reply] = fake.wait_for_responses(response_id=action_url.rsplit("/", 1)[1])
        assert action_reply.body["replace_original"] is True
        fake.wait_for_responses(response_id=shortcut_url.rsplit("/", 1)[1])
        [said] = fake.wait_for_calls("chat.postMessage")
        assert (said.args["channel"], said.args["thread_ts"]) == ("C111", "1.5")

    assert sorted(seen) == sorted(
        [
            "command:acme",
            "action:page-2:a1",
            "event:<@UBOT> acme",
            "shortcut:acme please",
        ]
    )


def test_post_signed_sync_sends_signed_body() -> None:
    received: list[tuple[bytes, dict[str, str]]] = []

    async def echo(request: Request) -> Response:
        received.append((await request.body(), dict(request.headers)))
        return Response("ok")

    app = Starlette(routes=[Route("/slack/events", echo, methods=["POST"])])
    body = event_callback_body({"type": "app_mention", "text": "hi"})
    with serve_in_thread(app) as url, httpx.Client() as http:
        response = post_signed_sync(
            http, f"{url}/slack/events", body, extra_headers={"X-Slack-Retry-Num": "1"}
        )
    assert response.status_code == 200
    [(raw, headers)] = received
    assert raw.decode() == body
    assert headers["content-type"] == "application/json"
    assert headers["x-slack-retry-num"] == "1"
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(raw, headers)
