"""Load generator: Slack-signed slash commands, and a response_url receiver that times posts.

Every request is signed fresh. Times are `time.perf_counter()` readings in this process: the
send time just before the POST, the ack time when its answer has arrived, and the delivery
time when the receiver (a FakeSlack served in a thread of this process) has read the first
post to the command's response_url.

Commands go out through aiohttp, not httpx: with 100 requests in flight on one
`httpx.AsyncClient`, waves on reused connections took 780 ms (p50) to be acked by the floor
app, against 30 ms through aiohttp; the client, not the server, was being measured.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import Response

from bot.demo.fake_slack import FakeSlack
from bot.demo.servers import serve_in_thread
from bot.demo.slack_requests import FORM_CONTENT_TYPE, sign_body, slash_command_body

EVENTS_PATH = "/slack/events"
DELIVERY_POLL_S = 0.002


class TimedFakeSlack(FakeSlack):
    """FakeSlack that also notes when the first post to each response_url arrived."""

    def __init__(self, bot_token: str) -> None:
        # No per-URL limit: the bench never reuses a response_url and the check is O(posts).
        super().__init__(bot_token, response_url_limit=None)
        self._first_delivery: dict[str, float] = {}

    async def _response_endpoint(self, request: Request) -> Response:
        await request.body()  # cached by Starlette for the recording below
        arrived = time.perf_counter()
        with self._lock:
            self._first_delivery.setdefault(request.path_params["response_id"], arrived)
        return await super()._response_endpoint(request)

    def delivered_at(self, response_id: str) -> float | None:
        with self._lock:
            return self._first_delivery.get(response_id)

    def first_body(self, response_id: str) -> dict[str, Any] | None:
        posts = self.responses(response_id)
        return posts[0].body if posts else None

    def clear(self) -> None:
        with self._lock:
            self.reset()
            self._first_delivery.clear()


@contextmanager
def running_receiver(bot_token: str) -> Iterator[TimedFakeSlack]:
    """Serve a TimedFakeSlack (Slack Web API + response_url receiver) on loopback."""
    fake = TimedFakeSlack(bot_token)
    with serve_in_thread(fake.app) as base_url:
        fake.base_url = base_url
        fake.api_url = f"{base_url}/api/"
        yield fake


@dataclass
class Sample:
    """One slash command: when it was sent, acked and answered through its response_url."""

    response_id: str
    sent: float
    acked: float = math.nan
    status: int = 0
    error: str = ""
    delivered: float = math.nan
    answer_ok: bool = False

    @property
    def ack_ms(self) -> float:
        return (self.acked - self.sent) * 1000

    @property
    def e2e_ms(self) -> float:
        return (self.delivered - self.sent) * 1000

    @property
    def ack_ok(self) -> bool:
        return self.status == 200 and not self.error


def is_summary(body: dict[str, Any] | None) -> bool:
    """A lookup answer (a summary starts with a header block), not an error notice."""
    blocks = (body or {}).get("blocks") or []
    return any(isinstance(block, dict) and block.get("type") == "header" for block in blocks)


class Driver:
    def __init__(self, receiver: TimedFakeSlack, signing_secret: str) -> None:
        self.receiver = receiver
        self.signing_secret = signing_secret

    @asynccontextmanager
    async def client(self, request_timeout: float = 30.0) -> AsyncIterator[aiohttp.ClientSession]:
        """A session with no connection cap, so N commands really are N in flight."""
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=request_timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            yield http

    async def command(self, http: aiohttp.ClientSession, base_url: str, text: str) -> Sample:
        response_url = self.receiver.new_response_url()
        body = slash_command_body(text, response_url=response_url).encode()
        headers = sign_body(
            body.decode(), secret=self.signing_secret, content_type=FORM_CONTENT_TYPE
        )
        sample = Sample(response_id=response_url.rsplit("/", 1)[1], sent=time.perf_counter())
        try:
            async with http.post(base_url + EVENTS_PATH, data=body, headers=headers) as response:
                await response.read()
                sample.acked = time.perf_counter()
                sample.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            sample.error = type(exc).__name__
        return sample

    async def open_connections(
        self, http: aiohttp.ClientSession, base_url: str, count: int
    ) -> None:
        """`count` concurrent `GET /healthz`, so the next waves find their connections open."""

        async def healthz() -> None:
            async with http.get(base_url + "/healthz") as response:
                await response.read()

        await asyncio.gather(*(healthz() for _ in range(count)))

    async def wave(
        self, http: aiohttp.ClientSession, base_url: str, texts: Sequence[str]
    ) -> list[Sample]:
        """All of `texts` at once; returns when every one is acked (or failed)."""
        return list(await asyncio.gather(*(self.command(http, base_url, t) for t in texts)))

    async def waves(
        self, http: aiohttp.ClientSession, base_url: str, texts: Sequence[str], concurrency: int
    ) -> list[Sample]:
        """`texts` in back-to-back waves of `concurrency`."""
        samples: list[Sample] = []
        for start in range(0, len(texts), concurrency):
            samples += await self.wave(http, base_url, texts[start : start + concurrency])
        return samples

    async def await_deliveries(self, samples: Sequence[Sample], within_s: float) -> int:
        """Wait until each acked sample got its response_url post; the number still missing."""
        deadline = time.monotonic() + within_s
        pending = [s for s in samples if s.ack_ok and math.isnan(s.delivered)]
        while pending:
            still: list[Sample] = []
            for sample in pending:
                arrived = self.receiver.delivered_at(sample.response_id)
                # The arrival is noted before the receiver records the post (another thread):
                # wait for the record too, or a reply in between would read as "no summary".
                body = None if arrived is None else self.receiver.first_body(sample.response_id)
                if arrived is None or body is None:
                    still.append(sample)
                    continue
                sample.delivered = arrived
                sample.answer_ok = is_summary(body)
            pending = still
            if pending:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(DELIVERY_POLL_S)
        return len(pending)
