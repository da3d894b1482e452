"""`python -m bench soak`: a bounded soak of one `serve` process with mixed traffic.

Sends `--count` requests (commands, mentions, button presses and duplicate event deliveries)
over loopback at a fixed concurrency, then checks: zero 5xx, zero lost replies, RSS growth
after warm-up, open file descriptors, and the size of the event de-duplication table. It stops
by itself; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import Plan, bench_customer, command_text, open_bench
from bench.processes import Child
from bot.demo.slack_requests import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    block_action_body,
    event_callback_body,
    sign_body,
    slash_command_body,
)
from bot.rendering.blocks import button_value

SOAK_RSS_GROWTH_LIMIT_MB = 15.0
SOAK_SECOND_HALF_LIMIT_MB = 5.0  # growth that goes on after the first half is a leak
DEFAULT_COUNT = 3_000
WARM_UP = 500
DELIVERY_TIMEOUT_S = 120.0


@dataclass
class SoakResult:
    sent: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    lost_replies: int = 0
    duplicate_posts: int = 0
    rss_after_warm_up_mb: float = 0.0
    rss_half_mb: float = 0.0
    rss_end_mb: float = 0.0
    fds_after_warm_up: int = 0
    fds_end: int = 0
    dedupe_rows: int = 0
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_after_warm_up_mb

    @property
    def rss_second_half_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_half_mb

    def passed(self) -> bool:
        return (
            self.server_errors == 0
            and self.transport_errors == 0
            and self.lost_replies == 0
            and self.duplicate_posts == 0
            and self.rss_growth_mb <= SOAK_RSS_GROWTH_LIMIT_MB
            and self.rss_second_half_growth_mb <= SOAK_SECOND_HALF_LIMIT_MB
            and self.fds_end <= self.fds_after_warm_up + 10
        )


@dataclass(frozen=True)
class Request:
    kind: str  # command | button | mention | duplicate
    body: str
    content_type: str
    expect: str  # response id, or mention ts, or "" (a duplicate: nothing new)


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def build_requests(count: int, receiver: Any, run: str) -> list[Request]:
    """A deterministic mix: 60% commands, 20% button presses, 15% mentions, 5% duplicates."""
    requests: list[Request] = []
    last_mention: str | None = None
    for index in range(count):
        slot = index % 20
        email = bench_customer(index)
        if slot < 12:
            url = receiver.new_response_url()
            body = slash_command_body(command_text(email), response_url=url)
            requests.append(Request("command", body, FORM_CONTENT_TYPE, url.rsplit("/", 1)[1]))
        elif slot < 16:
            url = receiver.new_response_url()
            value = button_value("acme-desktop", email, 0)
            body = block_action_body("page_next", value, response_url=url, is_ephemeral=True)
            requests.append(Request("button", body, FORM_CONTENT_TYPE, url.rsplit("/", 1)[1]))
        elif slot < 19 or last_mention is None:
            ts = f"{1_800_000_000 + index}.{run}"
            event = {
                "type": "app_mention",
                "user": "U111",
                "channel": "CSOAK",
                "text": f"<@UBOT> acme-desktop {email}",
                "ts": ts,
                "event_ts": ts,
            }
            last_mention = event_callback_body(event, event_id=f"Ev{run}{index}")
            requests.append(Request("mention", last_mention, JSON_CONTENT_TYPE, ts))
        else:  # Slack retrying the previous delivery: must not post again
            requests.append(Request("duplicate", last_mention, JSON_CONTENT_TYPE, ""))
    return requests


async def _send(
    http: aiohttp.ClientSession, url: str, request: Request, secret: str, result: SoakResult
) -> None:
    headers = sign_body(request.body, secret=secret, content_type=request.content_type)
    if request.kind == "duplicate":
        headers["X-Slack-Retry-Num"] = "1"
    try:
        async with http.post(url, data=request.body.encode(), headers=headers) as response:
            await response.read()
            result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
    except (aiohttp.ClientError, TimeoutError):
        result.transport_errors += 1


async def _drive(
    bench: Any, bot: Child, requests: Sequence[Request], concurrency: int, result: SoakResult
) -> None:
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
        result.sent[request.kind] = result.sent.get(request.kind, 0) + 1

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            request = queue.get_nowait()
            await _send(
                http, bot.url + "/slack/events", request, bench.driver.signing_secret, result
            )

    async with bench.driver.client() as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))


def _missing(receiver: Any, requests: Sequence[Request]) -> tuple[int, int]:
    """(lost replies, duplicate posts) among `requests`."""
    threads: dict[str, int] = {}
    for call in receiver.calls("chat.postMessage"):
        ts = str(call.args.get("thread_ts", ""))
        threads[ts] = threads.get(ts, 0) + 1
    lost = duplicates = 0
    for request in requests:
        if request.kind in {"command", "button"}:
            lost += 0 if receiver.responses(request.expect) else 1
        elif request.kind == "mention":
            posts = threads.get(request.expect, 0)
            lost += 1 if posts == 0 else 0
            duplicates += max(posts - 1, 0)
    return lost, duplicates


async def _wait_for_replies(receiver: Any, requests: Sequence[Request]) -> tuple[int, int]:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        lost, duplicates = _missing(receiver, requests)
        if lost == 0 or time.monotonic() > deadline:
            return lost, duplicates
        await asyncio.sleep(0.2)


def _dedupe_rows(workdir: Path) -> int:
    rows = 0
    for database in workdir.glob("*.db"):
        with sqlite3.connect(database) as connection:
            try:
                rows += connection.execute("SELECT count(*) FROM processed_events").fetchone()[0]
            except sqlite3.Error:
                continue
    return rows


async def soak(count: int, concurrency: int) -> SoakResult:
    result = SoakResult()
    run = uuid.uuid4().hex[:8]
    async with open_bench(Plan.brief(1)) as bench:
        with bench.children() as fleet:
            bot = await bench.start_bot(fleet, cache_ttl=30.0)
            warm_up = build_requests(WARM_UP, bench.receiver, "w" + run)
            await _drive(bench, bot, warm_up, concurrency, SoakResult())
            await _wait_for_replies(bench.receiver, warm_up)
            result.rss_after_warm_up_mb = bot.memory().rss_mb
            result.fds_after_warm_up = _open_fds(bot.pid)
            requests = build_requests(count, bench.receiver, run)
            half = len(requests) // 2
            started = time.monotonic()
            await _drive(bench, bot, requests[:half], concurrency, result)
            await _wait_for_replies(bench.receiver, requests[:half])
            result.rss_half_mb = bot.memory().rss_mb
            await _drive(bench, bot, requests[half:], concurrency, result)
            result.lost_replies, result.duplicate_posts = await _wait_for_replies(
                bench.receiver, requests
            )
            result.seconds = time.monotonic() - started
            await asyncio.sleep(1.0)  # let the process settle before the last readings
            result.rss_end_mb = bot.memory().rss_mb
            result.fds_end = _open_fds(bot.pid)
        result.dedupe_rows = _dedupe_rows(bench.workdir)
    return result


def report(result: SoakResult) -> str:
    lines = [
        f"soak: {sum(result.sent.values()):,} requests in {result.seconds:.1f} s "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(result.sent.items()))})",
        f"  HTTP statuses: {dict(sorted(result.statuses.items()))}; 5xx: {result.server_errors};"
        f" transport errors: {result.transport_errors}",
        f"  lost replies: {result.lost_replies}; duplicate posts: {result.duplicate_posts}",
        f"  RSS after warm-up {result.rss_after_warm_up_mb:.1f} MB, half-way "
        f"{result.rss_half_mb:.1f} MB, at the end {result.rss_end_mb:.1f} MB: growth "
        f"{result.rss_growth_mb:+.1f} MB (limit {SOAK_RSS_GROWTH_LIMIT_MB:.0f}), in the second "
        f"half {result.rss_second_half_growth_mb:+.1f} MB (limit {SOAK_SECOND_HALF_LIMIT_MB:.0f})",
        f"  open file descriptors: {result.fds_after_warm_up} after warm-up, {result.fds_end} "
        "at the end",
        f"  event de-duplication rows: {result.dedupe_rows:,} (kept one hour, then purged)",
        "PASS" if result.passed() else "FAIL",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    result = asyncio.run(soak(args.count, args.concurrency))
    print(report(result))
    if args.out is not None:
        figures = {
            **{k: v for k, v in result.__dict__.items() if k not in {"sent", "statuses"}},
            "sent": result.sent,
            "statuses": {str(k): v for k, v in result.statuses.items()},
            "server_errors": result.server_errors,
            "rss_growth_mb": result.rss_growth_mb,
            "rss_second_half_growth_mb": result.rss_second_half_growth_mb,
            "passed": result.passed(),
        }
        args.out.write_text(json.dumps(figures, indent=2))
    sys.stdout.flush()
    return 0 if result.passed() else 1
