"""The Web API client's retries: a chat.postMessage that may have reached Slack is never sent
again by a retry handler (a second message), other calls still are."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.slack.app import build_web_client


@pytest.fixture
async def hanging_up_slack() -> AsyncIterator[tuple[str, collections.Counter[str]]]:
    """A server that reads each request whole, then closes the connection without answering:
    the request was sent (and, for all the client knows, carried out)."""
    received: collections.Counter[str] = collections.Counter()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        received[path.rsplit("/", 1)[-1]] += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/api/", received


async def test_a_post_that_may_have_been_received_is_not_retried(
    hanging_up_slack: tuple[str, collections.Counter[str]],
) -> None:
    url, received = hanging_up_slack
    settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_api_url=url)  # type: ignore[call-arg]
    client = build_web_client(settings)
    with pytest.raises((aiohttp.ClientError, SlackApiError)):
        await client.chat_postMessage(channel="C1", text="once")
    assert received["chat.postMessage"] == 1
    with pytest.raises((aiohttp.ClientError, SlackApiError)):
        await client.conversations_info(channel="C1")
    assert received["conversations.info"] >= 3  # reads are safe to repeat: retried


async def test_a_post_that_could_not_connect_is_retried() -> None:
    async def closed_port() -> int:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port: int = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return port

    url = f"http://127.0.0.1:{await closed_port()}/api/"
    settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_api_url=url)  # type: ignore[call-arg]
    client = build_web_client(settings)
    attempts = []
    original = client.retry_handlers[1]._can_retry_async

    async def counting(**kwargs: object) -> bool:
        attempts.append(kwargs.get("error"))
        return await original(**kwargs)  # type: ignore[arg-type]

    client.retry_handlers[1]._can_retry_async = counting  # type: ignore[method-assign]
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.chat_postMessage(channel="C1", text="never sent")
    assert len(attempts) == 2  # nothing was sent: retried twice, both allowed


async def test_a_step_completion_that_may_have_been_received_is_not_retried(
    hanging_up_slack: tuple[str, collections.Counter[str]],
) -> None:
    """A second completion of the same execution is what the step must never send."""
    url, received = hanging_up_slack
    settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_api_url=url)  # type: ignore[call-arg]
    client = build_web_client(settings)
    for method in ("functions.completeSuccess", "functions.completeError"):
        with pytest.raises((aiohttp.ClientError, SlackApiError)):
            await client.api_call(method, json={"function_execution_id": "Fx1"})
        assert received[method] == 1
