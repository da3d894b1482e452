"""The scenarios: one function each, returning a flat dict of figures.

Figure names are unique across scenarios. Times are milliseconds (`_ms`), memory megabytes
(`_mb`, MiB), `ratio` figures are bot/floor; the rest are counts. Each scenario also says how
its figures are tabulated (`Table`) and which figures are worst-of-runs instead of medians.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient

from bench.cpu import KINDS, cpu_budget, has_commit
from bench.driver import EVENTS_PATH, Sample
from bench.harness import (
    BASELINE_COMMIT,
    BENCH_CUSTOMERS,
    BOT_RATE_LIMIT,
    BOT_TOKEN,
    PRODUCT,
    SIGNING_SECRET,
    Bench,
    Plan,
    bench_customer,
    command_text,
)
from bench.management import management_api
from bench.processes import Child
from bench.stats import median, percentile, ratio
from bench.webhooks import shared_database_url, shared_rate, webhook_alerts
from bot.alerts.poller import Poller, PollerOptions
from bot.config import Settings
from bot.demo.slack_requests import block_action_body, sign_body
from bot.export import ENCODING, users_csv
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.models import parse_customer_license_users
from bot.rendering.blocks import (
    ListState,
    SummaryButtons,
    render_summary,
    state_value,
)
from bot.rendering.ids import ActionId
from bot.sandbox import seed
from bot.slack.app import build_web_client
from bot.store import Store
from bot.store.tables import watches as watches_table
from bot.summary import summarise
from bot.userlist import UserIndex, UserQuery

Figures = dict[str, float]
Cells = tuple[str | None, ...]
ACK_LIMIT_MS = 3000.0
WARM_UP_WAVE = 20


@dataclass(frozen=True)
class Table:
    """How a scenario's figures are shown: a grid of figure names, then single figures."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, Cells], ...] = ()
    singles: tuple[tuple[str, str], ...] = ()

    @property
    def figures(self) -> tuple[str, ...]:
        names = [name for _, cells in self.rows for name in cells if name is not None]
        return (*names, *(name for _, name in self.singles))


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str  # may name figures: "{ack_sandbox_latency_ms:.0f}"
    run: Callable[[Bench], Awaitable[Figures]] | None
    table: Table = field(default_factory=Table)
    worst: frozenset[str] = frozenset()  # aggregated over runs by max, not median
    unavailable: str = ""

    @property
    def figures(self) -> tuple[str, ...]:
        return self.table.figures


# --- ack latency -----------------------------------------------------------------------


def _drain_timeout(plan: Plan, commands: int) -> float:
    return plan.ack_latency_ms / 1000 + commands / BOT_RATE_LIMIT + 30.0


def _ack_figures(prefix: str, bot: Sequence[Sample], floor: Sequence[Sample]) -> Figures:
    bot_acks = [s.ack_ms for s in bot if s.ack_ok]
    floor_acks = [s.ack_ms for s in floor if s.ack_ok]
    figures = {
        f"{prefix}_bot_p50_ms": percentile(bot_acks, 50),
        f"{prefix}_bot_p99_ms": percentile(bot_acks, 99),
        f"{prefix}_floor_p50_ms": percentile(floor_acks, 50),
        f"{prefix}_floor_p99_ms": percentile(floor_acks, 99),
    }
    figures[f"{prefix}_ratio_p50"] = ratio(
        figures[f"{prefix}_bot_p50_ms"], figures[f"{prefix}_floor_p50_ms"]
    )
    figures[f"{prefix}_ratio_p99"] = ratio(
        figures[f"{prefix}_bot_p99_ms"], figures[f"{prefix}_floor_p99_ms"]
    )
    return figures


async def _acks(bench: Bench, child: Child, texts: list[str], concurrency: int) -> list[Sample]:
    """`texts` in waves of `concurrency`, on connections opened beforehand (steady state)."""
    async with bench.driver.client() as http:
        await bench.driver.open_connections(http, child.url, concurrency)
        return await bench.driver.waves(http, child.url, texts, concurrency)


async def ack_latency(bench: Bench) -> Figures:
    """Acks of the bot and the floor at each concurrency while lookups take the set latency."""
    plan = bench.plan
    figures: Figures = {"ack_sandbox_latency_ms": float(plan.ack_latency_ms)}
    failed = missing = wrong = 0
    with bench.children() as fleet:
        bot, floor = await asyncio.gather(
            bench.start_bot(fleet, cache_ttl=0), bench.start_floor(fleet)
        )
        await bench.reset_sandbox(latency_ms=plan.ack_latency_ms)
        await bench.warm_up(floor, delivery=False)
        await bench.warm_up(bot, delivery=True)
        # One unmeasured wave each: a process's first concurrent wave is slower, once.
        texts = bench.distinct_customers(WARM_UP_WAVE)
        await _acks(bench, floor, texts, WARM_UP_WAVE)
        warm = await _acks(bench, bot, texts, WARM_UP_WAVE)
        await bench.driver.await_deliveries(warm, within_s=_drain_timeout(plan, WARM_UP_WAVE))
        levels = [(1, plan.ack_c1_requests), *((c, c * w) for c, w in plan.ack_waves)]
        levels.append((plan.ack_burst, plan.ack_burst))
        cpu_before = {"bot": bot.cpu_seconds(), "floor": floor.cpu_seconds()}
        for concurrency, count in levels:
            texts = bench.distinct_customers(count)
            floor_samples = await _acks(bench, floor, texts, concurrency)
            bot_samples = await _acks(bench, bot, texts, concurrency)
            # Let the bot finish this level's lookups so the next level starts from idle.
            missing += await bench.driver.await_deliveries(
                bot_samples, within_s=_drain_timeout(plan, count)
            )
            wrong += sum(1 for s in bot_samples if not math.isnan(s.delivered) and not s.answer_ok)
            failed += sum(1 for s in [*bot_samples, *floor_samples] if not s.ack_ok)
            prefix = f"ack_c{concurrency}" if concurrency != plan.ack_burst else "ack_burst"
            figures.update(_ack_figures(prefix, bot_samples, floor_samples))
            if concurrency == plan.ack_burst:
                bot_acks = [s.ack_ms if s.ack_ok else math.inf for s in bot_samples]
                figures["ack_burst_concurrency"] = float(concurrency)
                figures["ack_burst_bot_max_ms"] = max(bot_acks)
                figures["ack_burst_floor_max_ms"] = max(
                    s.ack_ms if s.ack_ok else math.inf for s in floor_samples
                )
                figures["ack_burst_bot_slow"] = float(sum(a >= ACK_LIMIT_MS for a in bot_acks))
        commands = sum(count for _, count in levels)
        for name, child in (("bot", bot), ("floor", floor)):
            used_ms = (child.cpu_seconds() - cpu_before[name]) * 1000
            figures[f"ack_{name}_cpu_ms_per_command"] = used_ms / commands
    figures["ack_failed"] = float(failed)
    figures["ack_missing_deliveries"] = float(missing)
    figures["ack_wrong_answers"] = float(wrong)
    return figures


def _ack_row(label: str, prefix: str) -> tuple[str, Cells]:
    names = ("bot_p50_ms", "bot_p99_ms", "floor_p50_ms", "floor_p99_ms", "ratio_p50", "ratio_p99")
    return label, tuple(f"{prefix}_{name}" for name in names)


ACK_TABLE = Table(
    columns=("bot p50", "bot p99", "floor p50", "floor p99", "ratio p50", "ratio p99"),
    rows=(
        _ack_row("concurrency 1", "ack_c1"),
        _ack_row("concurrency 20", "ack_c20"),
        _ack_row("concurrency 100", "ack_c100"),
        _ack_row("concurrency 200 (1 wave)", "ack_burst"),
        (
            "concurrency 200: max ack",
            ("ack_burst_bot_max_ms", None, "ack_burst_floor_max_ms", None, None, None),
        ),
    ),
    singles=(
        ("bot acks >= 3 s or failed at concurrency 200", "ack_burst_bot_slow"),
        ("acks failed (bot + floor)", "ack_failed"),
        ("bot answers missing", "ack_missing_deliveries"),
        ("bot answers not a summary", "ack_wrong_answers"),
        ("bot CPU ms per command (ack, lookup, answer)", "ack_bot_cpu_ms_per_command"),
        ("floor CPU ms per command (ack)", "ack_floor_cpu_ms_per_command"),
        ("sandbox latency ms", "ack_sandbox_latency_ms"),
    ),
)


# --- end-to-end overhead ---------------------------------------------------------------


def _overheads(samples: Sequence[Sample], latency_ms: float) -> list[float]:
    return [s.e2e_ms - latency_ms for s in samples if s.answer_ok]


async def e2e_overhead(bench: Bench) -> Figures:
    """Send to response_url delivery, minus the sandbox latency; no cache, no coalescing."""
    plan = bench.plan
    latency = float(plan.e2e_latency_ms)
    with bench.children() as fleet:
        bot = await bench.start_bot(fleet, cache_ttl=0)
        await bench.reset_sandbox(latency_ms=plan.e2e_latency_ms)
        await bench.warm_up(bot, delivery=True)
        single = await bench.sequential(
            bot, bench.distinct_customers(plan.e2e_c1_requests), delivery_timeout=30.0
        )
        concurrent: list[Sample] = []
        async with bench.driver.client() as http:
            for _ in range(plan.e2e_c20_waves):
                wave = await bench.driver.wave(http, bot.url, bench.distinct_customers(20))
                await bench.driver.await_deliveries(wave, within_s=30.0)
                concurrent += wave
    single_overheads = _overheads(single, latency)
    concurrent_overheads = _overheads(concurrent, latency)
    return {
        "e2e_c1_overhead_p50_ms": percentile(single_overheads, 50),
        "e2e_c1_overhead_p99_ms": percentile(single_overheads, 99),
        "e2e_c1_ack_p50_ms": percentile([s.ack_ms for s in single if s.ack_ok], 50),
        "e2e_c20_overhead_p50_ms": percentile(concurrent_overheads, 50),
        "e2e_c20_overhead_p99_ms": percentile(concurrent_overheads, 99),
        "e2e_c20_ack_p50_ms": percentile([s.ack_ms for s in concurrent if s.ack_ok], 50),
        "e2e_failed": float(sum(1 for s in [*single, *concurrent] if not s.answer_ok)),
        "e2e_sandbox_latency_ms": latency,
    }


E2E_TABLE = Table(
    columns=("overhead p50", "overhead p99", "ack p50"),
    rows=(
        (
            "concurrency 1",
            ("e2e_c1_overhead_p50_ms", "e2e_c1_overhead_p99_ms", "e2e_c1_ack_p50_ms"),
        ),
        (
            "concurrency 20",
            ("e2e_c20_overhead_p50_ms", "e2e_c20_overhead_p99_ms", "e2e_c20_ack_p50_ms"),
        ),
    ),
    singles=(
        ("commands without a summary answer", "e2e_failed"),
        ("sandbox latency ms (subtracted)", "e2e_sandbox_latency_ms"),
    ),
)


# --- cached and coalesced lookups ------------------------------------------------------


async def cached_coalesced(bench: Bench) -> Figures:
    """100 identical commands at once, then the same lookup again and again within the TTL."""
    plan = bench.plan
    email = seed.AT_LIMIT
    text = command_text(email)
    with bench.children() as fleet:
        bot = await bench.start_bot(fleet, cache_ttl=30.0)
        await bench.warm_up(bot, delivery=True)  # another customer: nothing cached for `email`
        await bench.reset_sandbox(latency_ms=plan.coalesce_latency_ms)
        async with bench.driver.client() as http:
            burst = await bench.driver.wave(http, bot.url, [text] * plan.coalesce_requests)
        await bench.driver.await_deliveries(burst, within_s=60.0)
        coalesced_upstream = await bench.upstream_lookups(email)
        repeated = await bench.sequential(bot, [text] * plan.cached_requests, delivery_timeout=30.0)
        cached_upstream = await bench.upstream_lookups(email) - coalesced_upstream
    burst_e2e = [s.e2e_ms for s in burst if s.answer_ok]
    repeated_e2e = [s.e2e_ms for s in repeated if s.answer_ok]
    return {
        "coalesced_upstream_requests": float(coalesced_upstream),
        "coalesced_e2e_p50_ms": percentile(burst_e2e, 50),
        "coalesced_e2e_p99_ms": percentile(burst_e2e, 99),
        "cached_upstream_requests": float(cached_upstream),
        "cached_e2e_p50_ms": percentile(repeated_e2e, 50),
        "cached_e2e_p99_ms": percentile(repeated_e2e, 99),
        "cached_failed": float(sum(1 for s in [*burst, *repeated] if not s.answer_ok)),
        "cached_sandbox_latency_ms": float(plan.coalesce_latency_ms),
    }


CACHED_TABLE = Table(
    columns=("upstream requests", "e2e p50", "e2e p99"),
    rows=(
        (
            "100 identical commands at once",
            ("coalesced_upstream_requests", "coalesced_e2e_p50_ms", "coalesced_e2e_p99_ms"),
        ),
        (
            "repeated within the cache TTL",
            ("cached_upstream_requests", "cached_e2e_p50_ms", "cached_e2e_p99_ms"),
        ),
    ),
    singles=(
        ("commands without a summary answer", "cached_failed"),
        ("sandbox latency ms (not subtracted)", "cached_sandbox_latency_ms"),
    ),
)


# --- large customers -------------------------------------------------------------------

LARGE_CUSTOMERS = (("5k", seed.BIG), ("50k", seed.HUGE))


def first_page_timings(body: bytes, email: str) -> tuple[float, float, float, float]:
    """Milliseconds to parse the body, summarise it and render page 0, in this process; and
    the CPU milliseconds of this thread for all three."""
    gc.collect()
    cpu_started = time.thread_time()
    started = time.perf_counter()
    answer = parse_customer_license_users(body)
    parsed = time.perf_counter()
    summary = summarise(PRODUCT, answer)
    summarised = time.perf_counter()
    render_summary(summary, lookup_email=email, page=0, buttons=SummaryButtons(share=True))
    rendered = time.perf_counter()
    cpu_ms = (time.thread_time() - cpu_started) * 1000
    return (
        (parsed - started) * 1000,
        (summarised - parsed) * 1000,
        (rendered - summarised) * 1000,
        cpu_ms,
    )


async def large_customers(bench: Bench) -> Figures:
    """First page of 5,000 and 50,000 users in-process; the bot's peak RSS growth for each."""
    plan = bench.plan
    figures: Figures = {}
    for label, email in LARGE_CUSTOMERS:
        runs = plan.large_runs if email == seed.BIG else plan.huge_runs
        await bench.reset_sandbox()
        body = await bench.answer_body(email)
        timings = [first_page_timings(body, email) for _ in range(runs)]
        figures[f"large_{label}_body_mb"] = len(body) / 2**20
        figures[f"large_{label}_parse_ms"] = median(t[0] for t in timings)
        figures[f"large_{label}_summarise_ms"] = median(t[1] for t in timings)
        figures[f"large_{label}_render_ms"] = median(t[2] for t in timings)
        figures[f"large_{label}_first_page_ms"] = median(sum(t[:3]) for t in timings)
        figures[f"large_{label}_first_page_cpu_ms"] = median(t[3] for t in timings)
        with bench.children() as fleet:  # a fresh bot per size: nothing else in its peak
            bot = await bench.start_bot(fleet, cache_ttl=30.0)
            await bench.warm_up(bot, delivery=True)
            before = bot.memory()
            [sample] = await bench.sequential(bot, [command_text(email)], delivery_timeout=120.0)
            after = bot.memory()
        figures[f"large_{label}_rss_before_mb"] = before.rss_mb
        figures[f"large_{label}_rss_growth_mb"] = after.hwm_mb - before.rss_mb
        figures[f"large_{label}_rss_after_mb"] = after.rss_mb
        figures[f"large_{label}_bot_e2e_ms"] = sample.e2e_ms if sample.answer_ok else math.nan
        figures[f"large_{label}_failed"] = 0.0 if sample.answer_ok else 1.0
    return figures


def _large_row(label: str, name: str) -> tuple[str, Cells]:
    return label, (f"large_5k_{name}", f"large_50k_{name}")


LARGE_TABLE = Table(
    columns=("5,000 users", "50,000 users"),
    rows=(
        _large_row("answer body MB", "body_mb"),
        _large_row("parse ms", "parse_ms"),
        _large_row("summarise ms", "summarise_ms"),
        _large_row("render page 0 ms", "render_ms"),
        _large_row("first page ready ms", "first_page_ms"),
        _large_row("first page ready, CPU ms of the thread", "first_page_cpu_ms"),
        _large_row("bot RSS before MB", "rss_before_mb"),
        _large_row("bot RSS growth MB (VmHWM after - VmRSS before)", "rss_growth_mb"),
        _large_row("bot RSS after MB", "rss_after_mb"),
        _large_row("bot command e2e ms", "bot_e2e_ms"),
        _large_row("bot answer missing / wrong", "failed"),
    ),
)


# --- search and export -----------------------------------------------------------------

SEARCH_TOOLS = SummaryButtons(share=True, escalate=True, list_tools=True)
SOUGHT_INDEX = 42_042  # the user searched for by e-mail among the 50,000
NAME_SEARCH = "greta chen"


def search_timings(answer: Any, sought: str) -> tuple[float, float, float, float]:
    """ms to summarise a parsed answer; to index it and answer a first search (its page 0
    rendered); to answer another search of the same answer; CPU ms of the first two."""
    gc.collect()
    cpu_started = time.thread_time()
    started = time.perf_counter()
    summary = summarise(PRODUCT, answer)
    summarised = time.perf_counter()
    index = UserIndex(summary, answer.users)
    first = index.select(UserQuery(sought))
    render_summary(summary, lookup_email=seed.HUGE, buttons=SEARCH_TOOLS, selection=first)
    searched = time.perf_counter()
    cpu_ms = (time.thread_time() - cpu_started) * 1000
    other = index.select(UserQuery(NAME_SEARCH))
    render_summary(summary, lookup_email=seed.HUGE, buttons=SEARCH_TOOLS, selection=other)
    again = time.perf_counter()
    if first.count != 1:
        raise RuntimeError(f"searching {sought} found {first.count} users")
    return (
        (summarised - started) * 1000,
        (searched - summarised) * 1000,
        (again - searched) * 1000,
        cpu_ms,
    )


async def export_in_process(bench: Bench, answer: Any) -> tuple[float, float, float]:
    """ms to build the CSV of every user, ms to upload it to the stand-in; its size in MB."""
    summary = summarise(PRODUCT, answer)
    gc.collect()
    started = time.perf_counter()
    content = users_csv(summary.users)
    built = time.perf_counter()
    client = AsyncWebClient(token=BOT_TOKEN, base_url=bench.receiver.api_url, timeout=60)
    await client.files_upload_v2(
        channel="DBENCH", filename="bench.csv", content=content, title="bench"
    )
    uploaded = time.perf_counter()
    return (built - started) * 1000, (uploaded - built) * 1000, len(content) / 2**20


def _reset_peak_rss(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux: clear_refs 5), if allowed."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _press(bench: Bench, child: Child, action_id: str, value: str) -> int:
    body = block_action_body(
        action_id, value, response_url=bench.receiver.new_response_url(), is_ephemeral=True
    )
    async with httpx.AsyncClient(timeout=30.0) as http:
        response = await http.post(
            f"{child.url}{EVENTS_PATH}",
            content=body.encode(),
            headers=sign_body(body, secret=SIGNING_SECRET),
        )
    return response.status_code


async def _wait_for_upload(bench: Bench, already: int, within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        uploads = bench.receiver.uploads()
        if len(uploads) > already:
            return uploads[already]
        await asyncio.sleep(0.005)
    return None


async def search_export(bench: Bench) -> Figures:
    """Search and CSV export of the 50,000-user customer: in this process, then in a bot."""
    plan = bench.plan
    await bench.reset_sandbox()
    body = await bench.answer_body(seed.HUGE)
    answer = parse_customer_license_users(body)
    sought = answer.users[SOUGHT_INDEX].email
    timings = [search_timings(answer, sought) for _ in range(plan.huge_runs)]
    figures: Figures = {
        "search_50k_summarise_ms": median(t[0] for t in timings),
        "search_50k_first_ms": median(t[1] for t in timings),
        "search_50k_next_ms": median(t[2] for t in timings),
        "search_50k_cold_ms": median(t[0] + t[1] for t in timings),
        "search_50k_cold_cpu_ms": median(t[3] for t in timings),
    }
    build_ms, upload_ms, csv_mb = await export_in_process(bench, answer)
    figures.update(
        export_50k_build_ms=build_ms, export_50k_upload_ms=upload_ms, export_50k_csv_mb=csv_mb
    )
    del answer
    with bench.children() as fleet:  # a fresh bot: nothing else in its peak
        bot = await bench.start_bot(fleet, cache_ttl=300.0)
        await bench.warm_up(bot, delivery=True)
        await bench.reset_sandbox()
        [sample] = await bench.sequential(
            bot, [f"{command_text(seed.HUGE)} {sought}"], delivery_timeout=120.0
        )
        answered = bench.receiver.first_body(sample.response_id) or {}
        found = f"1 of 50,000 users matches `{sought}`" in json.dumps(answered.get("blocks"))
        figures["search_50k_bot_e2e_ms"] = sample.e2e_ms if sample.answer_ok else math.nan
        already = len(bench.receiver.uploads())
        _reset_peak_rss(bot.pid)
        before = bot.memory()
        pressed = time.perf_counter()
        value = state_value(ListState(PRODUCT, seed.HUGE))
        status = await _press(bench, bot, ActionId.EXPORT, value)
        upload = await _wait_for_upload(bench, already, within_s=60.0)
        done = time.perf_counter()
        after = bot.memory()
        upstream = await bench.upstream_lookups(seed.HUGE)
    rows = upload.content.decode(ENCODING).count("\r\n") - 1 if upload is not None else 0
    figures["export_50k_total_ms"] = (done - pressed) * 1000 if upload is not None else math.nan
    figures["export_50k_rss_growth_mb"] = after.hwm_mb - before.rss_mb
    figures["search_export_upstream_requests"] = float(upstream)
    figures["search_export_failed"] = float(
        status != 200 or not found or rows != seed.HUGE_USER_COUNT or not sample.answer_ok
    )
    return figures


SEARCH_TABLE = Table(
    singles=(
        ("summarise 50,000 parsed users ms (every lookup pays it)", "search_50k_summarise_ms"),
        ("first search of that answer: index + match + render ms", "search_50k_first_ms"),
        ("another search of the same answer ms", "search_50k_next_ms"),
        ("parsed answer -> first search reply ready ms", "search_50k_cold_ms"),
        ("parsed answer -> first search reply ready, CPU ms of the thread",
         "search_50k_cold_cpu_ms"),
        ("bot: search command e2e ms (upstream 50,000 users)", "search_50k_bot_e2e_ms"),
        ("CSV of 50,000 users: build ms", "export_50k_build_ms"),
        ("CSV of 50,000 users: upload to the stand-in ms", "export_50k_upload_ms"),
        ("CSV size MB", "export_50k_csv_mb"),
        ("bot: Export press -> file at the stand-in ms", "export_50k_total_ms"),
        ("bot: RSS growth during the export MB (VmHWM after - VmRSS before)",
         "export_50k_rss_growth_mb"),
        ("upstream requests for search + export (cache TTL 300 s)",
         "search_export_upstream_requests"),
        ("answer or file missing / wrong", "search_export_failed"),
    ),
)  # fmt: skip


# --- alert polling ---------------------------------------------------------------------


async def alert_polling(bench: Bench) -> Figures:
    """One poll cycle of `alert_watches` watches at the default rate limit, in this process.

    The watches are snoozed, so the cycle does all its work (lookups, rules, snapshot and
    outbox writes) without posting 1,000 baselines: posting is paced per channel by Slack's
    limits, not by the bot.
    """
    plan = bench.plan
    await bench.reset_sandbox(latency_ms=plan.alert_latency_ms)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        licensespring_api_url=bench.sandbox.url,
        licensespring_api_key=seed.SANDBOX_API_KEY,
        licensespring_shared_key=seed.SANDBOX_SHARED_KEY,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=bench.receiver.api_url,
    )
    store = await Store.open(f"sqlite:///{bench.workdir / f'alerts-{uuid.uuid4().hex}.db'}")
    client = LicenseApiClient.from_settings(settings)
    try:
        now = datetime.now(UTC)
        for index in range(plan.alert_watches):
            watch, _ = await store.watches.add(
                product=PRODUCT,
                customer_email=bench_customer(index),
                channel_id=f"CBENCH{index // BENCH_CUSTOMERS}",
                threshold_pct=90,
                created_by="UBENCH",
                now=now,
            )
            await store.watches.snooze(watch.id, now + timedelta(days=1))
        poller = Poller(
            store,
            client,
            build_web_client(settings),
            PollerOptions(interval_s=float(settings.alert_poll_interval)),
        )
        stats = await poller.run_cycle()
        sandbox = await bench.sandbox_stats()
    finally:
        await client.aclose()
        await store.close()
    ideal_s = plan.alert_watches / settings.licensespring_rate_limit
    per_watch_s = stats.seconds / max(stats.checked, 1)
    return {
        "alerts_watches": float(plan.alert_watches),
        "alerts_checked": float(stats.checked),
        "alerts_failed": float(stats.failed),
        "alerts_cycle_s": stats.seconds,
        "alerts_ideal_s": ideal_s,
        "alerts_cycle_ratio": stats.seconds / ideal_s,
        "alerts_429s": float(sandbox.get("rate_limited", 0)),
        "alerts_rate_limit": settings.licensespring_rate_limit,
        "alerts_watches_per_interval": settings.alert_poll_interval / per_watch_s,
    }


async def _loop_stalls(work: Awaitable[Any], tick_s: float = 0.002) -> tuple[Any, float]:
    """Run `work` while a ticker measures the longest the event loop went without turning:
    how long an ack arriving meanwhile would have waited on the loop."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(tick_s)
            now = time.perf_counter()
            worst = max(worst, now - last - tick_s)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        result = await work
    finally:
        done.set()
        await ticking
    return result, worst * 1000


async def poll_of_a_huge_customer(bench: Bench) -> Figures:
    """One poller check of a watch on the 50,000-user customer, in this process, as in
    `serve --with-worker` (the poller shares the loop with every ack): the longest the event
    loop stalled meanwhile, for the baseline check (no snapshot yet) and a second one."""
    await bench.reset_sandbox(latency_ms=0)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        licensespring_api_url=bench.sandbox.url,
        licensespring_api_key=seed.SANDBOX_API_KEY,
        licensespring_shared_key=seed.SANDBOX_SHARED_KEY,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=bench.receiver.api_url,
    )
    store = await Store.open(f"sqlite:///{bench.workdir / f'huge-{uuid.uuid4().hex}.db'}")
    client = LicenseApiClient.from_settings(settings)
    figures: Figures = {}
    try:
        now = datetime.now(UTC)
        watch, _ = await store.watches.add(
            product=PRODUCT,
            customer_email=seed.HUGE,
            channel_id="CBENCHHUGE",
            threshold_pct=90,
            created_by="UBENCH",
            now=now,
        )
        await store.watches.snooze(watch.id, now + timedelta(days=1))
        poller = Poller(store, client, build_web_client(settings), PollerOptions(interval_s=3600))
        for label in ("first", "second"):
            started = time.perf_counter()
            stats, stall_ms = await _loop_stalls(poller.run_cycle())
            figures[f"huge_poll_{label}_s"] = time.perf_counter() - started
            figures[f"huge_poll_{label}_stall_ms"] = stall_ms
            figures["huge_poll_failed"] = figures.get("huge_poll_failed", 0.0) + stats.failed
            async with store.engine.begin() as conn:  # due again, with its snapshot
                await conn.execute(sa.update(watches_table).values(next_check_at=datetime.now(UTC)))
    finally:
        await client.aclose()
        await store.close()
    return figures


HUGE_POLL_TABLE = Table(
    singles=(
        ("first check (baseline), s", "huge_poll_first_s"),
        ("  longest event-loop stall, ms", "huge_poll_first_stall_ms"),
        ("second check, s", "huge_poll_second_s"),
        ("  longest event-loop stall, ms", "huge_poll_second_stall_ms"),
        ("failed checks", "huge_poll_failed"),
    ),
)


ALERTS_TABLE = Table(
    singles=(
        ("watches", "alerts_watches"),
        ("checked", "alerts_checked"),
        ("failed lookups", "alerts_failed"),
        ("rate limit, lookups/s (the default)", "alerts_rate_limit"),
        ("one poll cycle, s", "alerts_cycle_s"),
        ("ideal (watches / rate limit), s", "alerts_ideal_s"),
        ("cycle / ideal", "alerts_cycle_ratio"),
        ("429s from the License API", "alerts_429s"),
        ("watches one worker keeps within a 15-minute interval", "alerts_watches_per_interval"),
    ),
)


# --- start-up --------------------------------------------------------------------------

IDLE_SETTLE_S = 0.25


async def startup(bench: Bench) -> Figures:
    """Process start until `/healthz` answers, floor and bot alternately; RSS when idle.

    One unmeasured start of each first: the bot's database then exists, as it would after the
    first deployment, and neither pays for cold files or bytecode compilation.
    """
    times: dict[str, list[float]] = {"bot": [], "floor": []}
    rss: dict[str, list[float]] = {"bot": [], "floor": []}
    for run in range(bench.plan.startup_runs + 1):
        for kind in ("floor", "bot"):
            with bench.children() as fleet:
                if kind == "bot":
                    child = await bench.start_bot(fleet, cache_ttl=30.0)
                else:
                    child = await bench.start_floor(fleet)
                await asyncio.sleep(IDLE_SETTLE_S)
                if run > 0:
                    times[kind].append(child.ready_after_s * 1000)
                    rss[kind].append(child.memory().rss_mb)
    bot_ms, floor_ms = median(times["bot"]), median(times["floor"])
    bot_rss, floor_rss = median(rss["bot"]), median(rss["floor"])
    return {
        "startup_bot_ms": bot_ms,
        "startup_floor_ms": floor_ms,
        "startup_ratio": ratio(bot_ms, floor_ms),
        "idle_rss_bot_mb": bot_rss,
        "idle_rss_floor_mb": floor_rss,
        "idle_rss_ratio": ratio(bot_rss, floor_rss),
    }


STARTUP_TABLE = Table(
    columns=("bot", "floor", "bot/floor"),
    rows=(
        ("time until /healthz answers ms", ("startup_bot_ms", "startup_floor_ms", "startup_ratio")),
        ("idle RSS MB", ("idle_rss_bot_mb", "idle_rss_floor_mb", "idle_rss_ratio")),
    ),
)


# --- webhooks and the shared rate limit (bench/webhooks.py) ------------------------------

HOOKS_TABLE = Table(
    singles=(
        ("watched customers (one channel each)", "hooks_watches"),
        ("webhooks sent in the burst", "hooks_sent"),
        ("webhooks refused", "hooks_refused"),
        ("burst sent in, s", "hooks_burst_s"),
        ("webhook -> alert posted p50, s", "hooks_alert_p50_s"),
        ("  ideal p50 (1 s window + queue position / rate limit + lookup), s", "hooks_ideal_p50_s"),
        ("  p50 / ideal", "hooks_alert_p50_ratio"),
        ("webhook -> alert posted p99, s", "hooks_alert_p99_s"),
        ("  ideal p99, s", "hooks_ideal_p99_s"),
        ("  p99 / ideal", "hooks_alert_p99_ratio"),
        ("webhook -> alert posted max, s", "hooks_alert_max_s"),
        ("alerts lost", "hooks_lost"),
        ("duplicate alerts", "hooks_duplicates"),
        ("lookups for the burst", "hooks_lookups"),
        ("webhook received -> alert posted p50 (worker's log), s", "hooks_worker_p50_s"),
    ),
)

RATE_TABLE = Table(
    singles=(
        ("processes (2 web, 1 worker), one credential", "rate_processes"),
        ("LICENSESPRING_RATE_LIMIT, lookups/s", "rate_limit"),
        ("measured window, s", "rate_window_s"),
        ("lookups the sandbox served in it", "rate_lookups"),
        ("total rate, lookups/s", "rate_per_s"),
        ("total rate / limit", "rate_share_of_limit"),
        ("429s from the sandbox's flood limit", "rate_429s"),
    ),
)


CPU_LABELS = {
    "small": "lookup, small customer (35 %)",
    "big": "lookup, 5,000 users (5 %)",
    "page": "page press, 5,000 users (5 %)",
    "help": "help (10 %)",
    "bad": "bad input (15 %)",
    "mention": "mention in a thread (30 %)",
}
CPU_TABLE = Table(
    columns=("baseline", "HEAD", "HEAD/base"),
    rows=(
        ("mixed load", ("cpu_base_s_per_1k", "cpu_head_s_per_1k", "cpu_ratio")),
        *(
            (
                f"  alone: {CPU_LABELS[kind]}",
                (f"cpu_base_{kind}_s_per_1k", f"cpu_head_{kind}_s_per_1k", f"cpu_{kind}_ratio"),
            )
            for kind in KINDS
        ),
        ("requests failed or unanswered", ("cpu_base_failed", "cpu_head_failed", None)),
    ),
    singles=(("requests in the mixed load", "cpu_requests"),),
)


# --- registry --------------------------------------------------------------------------

MANAGEMENT_TABLE = Table(
    columns=("p50 ms",),
    rows=(
        ("summary, no management key", ("mgmt_summary_no_key_p50_ms",)),
        ("summary with seats (key set)", ("mgmt_summary_with_seats_p50_ms",)),
        ("seats added to the summary", ("mgmt_seats_added_p50_ms",)),
        ("license user's e-mail, e2e", ("mgmt_reverse_e2e_p50_ms",)),
        ("  its 3 upstream requests, sent directly", ("mgmt_reverse_upstream_ms",)),
        ("  bot overhead over them", ("mgmt_reverse_overhead_p50_ms",)),
        ("  added over the customer's own summary", ("mgmt_reverse_over_summary_p50_ms",)),
        ("  that, minus its 2 extra upstream requests", ("mgmt_reverse_added_overhead_p50_ms",)),
    ),
    singles=(
        ("reverse overhead p99 ms", "mgmt_reverse_overhead_p99_ms"),
        ("Management API hung: slowest summary ms", "mgmt_hung_summary_max_ms"),
        ("Management API hung: slowest reverse lookup ms", "mgmt_hung_reverse_max_ms"),
        ("lookup deadline in the hung case ms", "mgmt_hung_deadline_ms"),
        ("commands without a summary answer", "mgmt_failed"),
        ("latency of each API ms", "mgmt_latency_ms"),
    ),
)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "ack",
        "Ack latency, ms (sandbox latency {ack_sandbox_latency_ms:.0f} ms)",
        ack_latency,
        ACK_TABLE,
        worst=frozenset(
            {
                "ack_burst_bot_max_ms",
                "ack_burst_floor_max_ms",
                "ack_burst_bot_slow",
                "ack_failed",
                "ack_missing_deliveries",
                "ack_wrong_answers",
            }
        ),
    ),
    Scenario(
        "e2e",
        "End-to-end overhead, ms (send -> response_url delivery - sandbox latency)",
        e2e_overhead,
        E2E_TABLE,
        worst=frozenset({"e2e_failed"}),
    ),
    Scenario(
        "cached",
        "Cached and coalesced lookups, ms",
        cached_coalesced,
        CACHED_TABLE,
        worst=frozenset(
            {"coalesced_upstream_requests", "cached_upstream_requests", "cached_failed"}
        ),
    ),
    Scenario(
        "large",
        "Large customers (first page in the bench process; RSS of a fresh bot process)",
        large_customers,
        LARGE_TABLE,
        worst=frozenset({"large_5k_failed", "large_50k_failed"}),
    ),
    Scenario(
        "search",
        "Search and CSV export, 50,000 users (in the bench process; then a fresh bot process)",
        search_export,
        SEARCH_TABLE,
        worst=frozenset({"search_export_failed", "search_export_upstream_requests"}),
    ),
    Scenario(
        "alerts",
        "Alert polling (sandbox latency 100 ms, default rate limit)",
        alert_polling,
        ALERTS_TABLE,
        worst=frozenset({"alerts_429s", "alerts_failed"}),
    ),
    Scenario(
        "huge_poll",
        "A poll of the 50,000-user customer beside acks (the poller in this process)",
        poll_of_a_huge_customer,
        HUGE_POLL_TABLE,
        worst=frozenset({"huge_poll_first_stall_ms", "huge_poll_second_stall_ms"}),
    ),
    Scenario("startup", "Start-up", startup, STARTUP_TABLE),
    Scenario(
        "management",
        "Management API: seats and a license user's e-mail (both APIs {mgmt_latency_ms:.0f} ms)",
        management_api,
        MANAGEMENT_TABLE,
        worst=frozenset({"mgmt_failed", "mgmt_hung_summary_max_ms", "mgmt_hung_reverse_max_ms"}),
    ),
    Scenario(
        "cpu",
        "CPU budget, bot CPU s per 1,000 requests (mixed load, concurrency 20; the baseline"
        " commit measured in the same run)",
        cpu_budget if has_commit(BASELINE_COMMIT) else None,
        CPU_TABLE,
        worst=frozenset({"cpu_base_failed", "cpu_head_failed"}),
        unavailable=f"needs commit {BASELINE_COMMIT} in the git history (a full clone)",
    ),
    Scenario(
        "webhooks",
        "Webhook to alert posted (serve + worker, SQLite, poll interval 1 h)",
        webhook_alerts,
        HOOKS_TABLE,
        worst=frozenset({"hooks_lost", "hooks_duplicates", "hooks_refused", "hooks_alert_max_s"}),
    ),
    Scenario(
        "shared_rate",
        "One rate limit shared by 3 processes (PostgreSQL)",
        shared_rate if shared_database_url() else None,
        RATE_TABLE,
        worst=frozenset({"rate_429s"}),
        unavailable="needs PostgreSQL: set BENCH_DATABASE_URL",
    ),
)

SCENARIO_NAMES = tuple(scenario.name for scenario in SCENARIOS)


def by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
