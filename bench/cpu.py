"""The CPU budget: CPU seconds of one `serve` process per 1,000 requests of a realistic mix.

The mix (per 20 requests): 7 lookups of small customers, 1 lookup of the 5,000-user customer,
1 page press on it, 2 help requests, 3 bad inputs, 6 mentions in threads, at concurrency 20.
The figure is the bot process's user + system CPU (from /proc/<pid>/stat) while it serves the
mix and sends every reply, so it does not depend on how busy the rest of the machine is.
After the mix, each kind alone in a short run gives its own CPU per 1,000 requests.

The same load runs against a baseline commit (`--baseline`, default the landed `9be55f6`),
exported with `git archive` into the bench's temp dir and started with the same interpreter
and PYTHONPATH pointing at it, in the same invocation: the ratio is measured side by side.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import tarfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import Bench, bench_customer, command_text
from bench.processes import REPO_ROOT, Child, bot_args
from bot.demo.slack_requests import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    block_action_body,
    event_callback_body,
    sign_body,
    slash_command_body,
)
from bot.rendering.blocks import button_value
from bot.rendering.ids import ActionId
from bot.sandbox import seed

Figures = dict[str, float]
CONCURRENCY = 20
CACHE_TTL_S = 30.0  # the default LICENSESPRING_CACHE_TTL
REPLY_TIMEOUT_S = 180.0
SETTLE_S = 0.3

# One block of 20 requests: the mix, spread out rather than grouped by kind.
KINDS = ("small", "big", "page", "help", "bad", "mention")
MIX: tuple[str, ...] = (
    "small", "mention", "bad", "small", "mention", "help", "small", "big", "mention", "small",
    "bad", "mention", "small", "page", "mention", "small", "bad", "help", "mention", "small",
)  # fmt: skip
BAD_INPUTS = ("nonsense", "acme-desktop not-an-email", "unknown-product a@b.example")


@dataclass(frozen=True)
class Request:
    kind: str
    body: str
    content_type: str
    expect: str  # a response id, a mention's ts, or "" when the ack is the reply


def build_requests(kinds: Sequence[str], receiver: Any, run: str) -> list[Request]:
    requests: list[Request] = []
    for index, kind in enumerate(kinds):
        if kind in ("small", "big", "help", "bad"):
            url = receiver.new_response_url()
            text = {
                "small": command_text(bench_customer(index)),
                "big": command_text(seed.BIG),
                "help": "help",
                "bad": BAD_INPUTS[index % len(BAD_INPUTS)],
            }[kind]
            body = slash_command_body(text, response_url=url)
            expect = url.rsplit("/", 1)[1] if kind in ("small", "big") else ""
            requests.append(Request(kind, body, FORM_CONTENT_TYPE, expect))
        elif kind == "page":
            url = receiver.new_response_url()
            value = button_value("acme-desktop", seed.BIG, 1 + index % 5)
            body = block_action_body(ActionId.PAGE_NEXT, value, response_url=url, is_ephemeral=True)
            requests.append(Request(kind, body, FORM_CONTENT_TYPE, url.rsplit("/", 1)[1]))
        else:
            ts = f"{1_700_000_000 + index}.{run}"
            event = {
                "type": "app_mention",
                "user": "U111",
                "channel": "CCPU",
                "text": f"<@UBOT> acme-desktop {bench_customer(index)}",
                "ts": ts,
                "thread_ts": f"{1_600_000_000 + index}.000100",
                "event_ts": ts,
            }
            body = event_callback_body(event, event_id=f"Ev{run}x{index}")
            requests.append(Request(kind, body, JSON_CONTENT_TYPE, ts))
    return requests


def mixed(count: int) -> list[str]:
    return [MIX[index % len(MIX)] for index in range(count)]


async def _drive(bench: Bench, bot: Child, requests: Sequence[Request]) -> int:
    """Every request at concurrency 20; the number not acked with a 200."""
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    failed = 0
    url = bot.url + "/slack/events"

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal failed
        while not queue.empty():
            request = queue.get_nowait()
            headers = sign_body(
                request.body,
                secret=bench.driver.signing_secret,
                content_type=request.content_type,
            )
            try:
                async with http.post(url, data=request.body.encode(), headers=headers) as answer:
                    await answer.read()
                    failed += answer.status != 200
            except (aiohttp.ClientError, TimeoutError):
                failed += 1

    async with bench.driver.client() as http:
        await bench.driver.open_connections(http, bot.url, CONCURRENCY)
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
    return failed


async def _serve(bench: Bench, bot: Child, requests: Sequence[Request]) -> tuple[float, int]:
    """(CPU seconds the bot spent on `requests`, requests failed or unanswered)."""
    bench.receiver.clear()
    bench.receiver.set_channel("CCPU")
    before = bot.cpu_seconds()
    failed = await _drive(bench, bot, requests)
    # Mentions are answered with a thread reply whose thread_ts is the mention's thread,
    # so wait on the number of posts rather than on each ts.
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    missing = _unanswered(bench.receiver, requests)
    while missing and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        missing = _unanswered(bench.receiver, requests)
    await asyncio.sleep(SETTLE_S)
    return bot.cpu_seconds() - before, failed + missing


def _unanswered(receiver: Any, requests: Sequence[Request]) -> int:
    answered = {response.id for response in receiver.responses()}
    responses = sum(
        1 for r in requests if r.expect and r.kind != "mention" and r.expect not in answered
    )
    mentions = sum(1 for r in requests if r.kind == "mention")
    posted = sum(
        1 for call in receiver.calls("chat.postMessage") if str(call.args.get("channel")) == "CCPU"
    )
    return responses + max(mentions - posted, 0)


# --- the baseline checkout -------------------------------------------------------------


def has_commit(commit: str) -> bool:
    """Whether `commit` is in this checkout's history (a shallow clone may not have it)."""
    found = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


def export_commit(commit: str, into: Path) -> Path:
    """The tree of `commit` (its `bot` package is what matters) under `into`; its path."""
    target = into / f"baseline-{commit}"
    if (target / "bot").is_dir():
        return target
    target.mkdir(parents=True, exist_ok=True)
    archive = into / f"baseline-{commit}.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", commit, "bot"],
            stdout=out,
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    return target


# --- the scenario ----------------------------------------------------------------------


CHUNK = 250  # requests per turn: the two bots take turns, so a change in machine load hits both


def _env(bench: Bench, source: Path | None) -> dict[str, str]:
    env = bench.bot_env(cache_ttl=CACHE_TTL_S)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{bench.workdir / f'cpu-{uuid.uuid4().hex}.db'}"
    return env


async def _turns(
    bench: Bench, bots: dict[str, Child], kinds: Sequence[str], figures: Figures, name: str
) -> None:
    """`kinds` served by each bot in turns of CHUNK; CPU s per 1,000 into `figures`."""
    seconds = dict.fromkeys(bots, 0.0)
    for start in range(0, len(kinds), CHUNK):
        chunk = kinds[start : start + CHUNK]
        for label, bot in bots.items():
            run = uuid.uuid4().hex[:8]
            used, failed = await _serve(bench, bot, build_requests(chunk, bench.receiver, run))
            seconds[label] += used
            figures[f"cpu_{label}_failed"] += failed
    for label in bots:
        figures[f"cpu_{label}_{name}s_per_1k"] = seconds[label] * 1000 / len(kinds)


async def cpu_budget(bench: Bench) -> Figures:
    plan = bench.plan
    source = await asyncio.to_thread(export_commit, plan.cpu_baseline, bench.workdir)
    await bench.reset_sandbox()
    figures: Figures = {
        "cpu_requests": float(plan.cpu_requests),
        "cpu_base_failed": 0.0,
        "cpu_head_failed": 0.0,
    }
    with bench.children() as fleet:
        bots = {
            label: await asyncio.to_thread(
                fleet.start, f"cpu-{label}", bot_args, env=_env(bench, path)
            )
            for label, path in (("base", source), ("head", None))
        }
        for bot in bots.values():
            await bench.warm_up(bot, delivery=True)
            await _serve(bench, bot, build_requests(mixed(len(MIX)), bench.receiver, "warm"))
        await _turns(bench, bots, mixed(plan.cpu_requests), figures, "")
        for kind in KINDS:
            await _turns(bench, bots, [kind] * plan.cpu_requests_per_kind, figures, f"{kind}_")
    figures["cpu_ratio"] = _ratio(figures["cpu_head_s_per_1k"], figures["cpu_base_s_per_1k"])
    for kind in KINDS:
        figures[f"cpu_{kind}_ratio"] = _ratio(
            figures[f"cpu_head_{kind}_s_per_1k"], figures[f"cpu_base_{kind}_s_per_1k"]
        )
    return figures


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan
