"""Webhook scenarios: webhook -> alert posted, and one rate limit shared by three processes.

`webhook_alerts`: a `serve` process and a `worker` on one SQLite store, `watch_count`
watched customers (each alerting in its own channel), the poll interval at an hour. Every
customer changes in the sandbox (webhooks off), then the bench sends a burst of
`webhook_burst` signed webhooks (two per customer, in random order, 50 in flight) and times,
per customer, the first webhook sent -> its alert posted. BENCH_HOOKS_DATABASE_URL runs it on
PostgreSQL instead (its tables are dropped first).

`shared_rate`: two `serve` and one `worker` processes on PostgreSQL with one credential,
each pushing as hard as it can (commands for distinct customers, 1,000 due watches); the
sandbox counts what reached it. Needs BENCH_DATABASE_URL or TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from bench.harness import BENCH_CUSTOMERS, BENCH_DOMAIN, PRODUCT, Bench, bench_customer
from bench.processes import bot_args
from bench.stats import percentile
from bot.sandbox import seed
from bot.store import Store, async_database_url
from bot.store.tables import metadata
from bot.webhooks.endpoint import WAKE_DEBOUNCE, WEBHOOK_PATH
from bot.webhooks.signature import sign

Figures = dict[str, float]
WEBHOOK_SECRET = "bench-webhook-secret"
WEBHOOK_CONCURRENCY = 50
BASELINE_TIMEOUT_S = 60.0
ALERT_TIMEOUT_S = 30.0
SETTLE_S = 3.0  # after the last alert: room for a duplicate to show up
RATE_LIMIT = 20.0  # the default LICENSESPRING_RATE_LIMIT


def _channel(index: int) -> str:
    return f"CHOOK{index:04d}"


def _posts_by_channel(bench: Bench, channels: set[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {channel: [] for channel in channels}
    for call in bench.receiver.calls("chat.postMessage"):
        channel = call.args.get("channel")
        if channel in found and call.response.get("ok"):
            found[channel].append(call)
    return found


async def _wait_for(check: Any, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


async def webhook_alerts(bench: Bench) -> Figures:
    plan = bench.plan
    count = plan.webhook_watches
    await bench.reset_sandbox(latency_ms=plan.alert_latency_ms)
    bench.receiver.clear()
    database_url = os.environ.get("BENCH_HOOKS_DATABASE_URL", "").strip()
    if database_url:
        await _reset_tables(database_url)
    else:
        database_url = f"sqlite+aiosqlite:///{bench.workdir / f'hooks-{uuid.uuid4().hex}.db'}"
    env = bench.bot_env(cache_ttl=0.0)
    env.update(
        {
            "DATABASE_URL": database_url,
            "ALERT_POLL_INTERVAL": "3600",
            "LICENSESPRING_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_LEVEL": "INFO",  # the worker's readiness is its `poller_started` line
            "LOG_FORMAT": "json",
        }
    )
    customers = [bench_customer(index) for index in range(count)]
    channels = {_channel(index) for index in range(count)}
    await bench.seed_customers()  # as seeded: an earlier run's change must not be the baseline
    for channel in channels:
        bench.receiver.set_channel(channel)
    with bench.children() as fleet:
        web = await asyncio.to_thread(fleet.start, "hooks-web", bot_args, env=env)
        worker = await asyncio.to_thread(fleet.start_worker, "hooks-worker", env=env)
        store = await Store.open(database_url)
        try:
            now = datetime.now(UTC)
            for index, email in enumerate(customers):
                await store.watches.add(
                    product=PRODUCT,
                    customer_email=email,
                    channel_id=_channel(index),
                    threshold_pct=90,
                    created_by="UBENCH",
                    now=now,
                )
        finally:
            await store.close()
        baselines = await _wait_for(
            lambda: all(len(p) >= 1 for p in _posts_by_channel(bench, channels).values()),
            BASELINE_TIMEOUT_S,
        )
        if not baselines:
            raise RuntimeError("the worker did not post every watch's confirmation")
        # Every customer gains a user (one USERS_ADDED alert each), unseen by any poll.
        async with bench.control() as http:
            for index, email in enumerate(customers):
                users = seed.generated_users(8, seed=index, domain=BENCH_DOMAIN)
                users.append(seed.license_user(f"new-{index}@{BENCH_DOMAIN}", "New", "Hire"))
                response = await http.put(
                    f"/_sandbox/customers/{PRODUCT}/{email}", json={"users": users}
                )
                response.raise_for_status()
            license_ids = {
                email: seed.generated_users(8, seed=index, domain=BENCH_DOMAIN)[0]["license_id"]
                for index, email in enumerate(customers)
            }
        lookups_before = (await bench.sandbox_stats())["lookups"]
        events = [(email, "customer") for email in customers]
        events += [(email, "license") for email in customers]
        events = (events * ((plan.webhook_burst + len(events) - 1) // len(events)))[
            : plan.webhook_burst
        ]
        random.Random(7).shuffle(events)
        first_sent: dict[str, float] = {}
        statuses: list[int] = []
        semaphore = asyncio.Semaphore(WEBHOOK_CONCURRENCY)
        url = f"{web.url}{WEBHOOK_PATH}"

        async with httpx.AsyncClient(timeout=10.0) as http:

            async def send(email: str, kind: str) -> None:
                data: dict[str, Any] = (
                    {"customer": {"email": email}}
                    if kind == "customer"
                    else {"license": {"id": license_ids[email]}}
                )
                event = {
                    "id": str(uuid.uuid4()),
                    "event": "customer.updated" if kind == "customer" else "license.updated",
                    "company_id": 1,
                    "ts": int(time.time()),
                    "data": data,
                }
                body = json.dumps(event).encode()
                async with semaphore:
                    first_sent.setdefault(email, time.time())
                    signature = sign(WEBHOOK_SECRET, body, int(time.time()))
                    headers = {"LicenseSpring-Signature": signature}
                    response = await http.post(url, content=body, headers=headers)
                statuses.append(response.status_code)

            started = time.perf_counter()
            await asyncio.gather(*(send(email, kind) for email, kind in events))
            burst_s = time.perf_counter() - started

        await _wait_for(
            lambda: all(len(p) >= 2 for p in _posts_by_channel(bench, channels).values()),
            ALERT_TIMEOUT_S,
        )
        await asyncio.sleep(SETTLE_S)
        posts = _posts_by_channel(bench, channels)
        lookups = (await bench.sandbox_stats())["lookups"] - lookups_before
        in_worker = _logged_seconds(worker.log_path.read_text(encoding="utf-8", errors="replace"))
    latencies: list[float] = []
    lost = duplicates = 0
    for index, email in enumerate(customers):
        alerts = posts[_channel(index)][1:]
        if not alerts:
            lost += 1
            continue
        duplicates += len(alerts) - 1
        latencies.append(alerts[0].received_at - first_sent[email])
    ideal = ideal_latencies(
        list(first_sent.values()),
        rate=float(env["LICENSESPRING_RATE_LIMIT"]),
        lookup_s=plan.alert_latency_ms / 1000,
    )
    return {
        "hooks_ideal_p50_s": percentile(ideal, 50),
        "hooks_ideal_p99_s": percentile(ideal, 99),
        "hooks_alert_p50_ratio": percentile(latencies, 50) / percentile(ideal, 50),
        "hooks_alert_p99_ratio": percentile(latencies, 99) / percentile(ideal, 99),
        "hooks_watches": float(count),
        "hooks_sent": float(len(events)),
        "hooks_refused": float(sum(1 for s in statuses if s >= 300)),
        "hooks_burst_s": burst_s,
        "hooks_alert_p50_s": percentile(latencies, 50),
        "hooks_alert_p99_s": percentile(latencies, 99),
        "hooks_alert_max_s": max(latencies, default=float("nan")),
        "hooks_lost": float(lost),
        "hooks_duplicates": float(duplicates),
        "hooks_lookups": float(lookups),
        "hooks_worker_p50_s": percentile(in_worker, 50),
    }


def ideal_latencies(first_sent: list[float], *, rate: float, lookup_s: float) -> list[float]:
    """Webhook -> alert for each customer if the bot wasted nothing: its watch is due one
    coalescing window after its first webhook; lookups then start in that order, no closer
    than 1/rate apart (LICENSESPRING_RATE_LIMIT; the limiter's small burst is left out), and
    each takes the sandbox's latency."""
    latencies = []
    previous_start = -math.inf
    for sent in sorted(first_sent):
        start = max(sent + WAKE_DEBOUNCE.total_seconds(), previous_start + 1 / rate)
        previous_start = start
        latencies.append(start + lookup_s - sent)
    return latencies


def _logged_seconds(log_text: str) -> list[float]:
    """The worker's own `webhook_alert_posted` figures (webhook received -> alert posted)."""
    seconds = []
    for line in log_text.splitlines():
        if '"webhook_alert_posted"' in line:
            try:
                seconds.append(float(json.loads(line)["seconds"]))
            except (ValueError, KeyError):
                continue
    return seconds


# --- one rate limit across processes ---------------------------------------------------


def shared_database_url() -> str | None:
    for name in ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


async def _reset_tables(url: str) -> None:
    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()


async def shared_rate(bench: Bench) -> Figures:
    url = shared_database_url()
    if url is None:
        raise RuntimeError("set BENCH_DATABASE_URL (PostgreSQL) for this scenario")
    plan = bench.plan
    await _reset_tables(url)
    await bench.reset_sandbox(latency_ms=plan.alert_latency_ms)
    env = bench.bot_env(cache_ttl=0.0)
    env.update(
        {
            "DATABASE_URL": url,
            "LICENSESPRING_RATE_LIMIT": str(RATE_LIMIT),
            "ALERT_POLL_INTERVAL": "3600",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }
    )
    with bench.children() as fleet:
        webs = [
            await asyncio.to_thread(fleet.start, f"rate-web{i}", bot_args, env=env)
            for i in range(2)
        ]
        store = await Store.open(url)
        try:
            now = datetime.now(UTC)
            for index in range(plan.rate_watches):
                watch, _ = await store.watches.add(
                    product=PRODUCT,
                    customer_email=bench_customer(index),
                    channel_id=f"CRATE{index}",
                    threshold_pct=90,
                    created_by="UBENCH",
                    now=now,
                )
                await store.watches.snooze(watch.id, now + timedelta(days=1))
        finally:
            await store.close()
        await asyncio.to_thread(fleet.start_worker, "rate-worker", env=env)
        stop = asyncio.Event()

        async def push(base_url: str, offset: int) -> None:
            index = offset
            async with bench.driver.client() as http:
                while not stop.is_set():
                    text = f"{PRODUCT} {bench_customer(index % BENCH_CUSTOMERS)}"
                    index += 7
                    sample = await bench.driver.command(http, base_url, text)
                    # one lookup in flight per pusher: the limiter, not a queue, sets the pace
                    await bench.driver.await_deliveries([sample], within_s=30.0)

        pushers = [
            asyncio.create_task(push(web.url, 1000 * w + k))
            for w, web in enumerate(webs)
            for k in range(plan.rate_in_flight)
        ]
        try:
            await asyncio.sleep(plan.rate_warmup_s)
            window_start = time.time()
            await asyncio.sleep(plan.rate_window_s)
            window_end = time.time()
            last = await bench.sandbox_stats()
        finally:
            stop.set()
            for task in pushers:
                task.cancel()
            await asyncio.gather(*pushers, return_exceptions=True)
        async with bench.control() as http:
            response = await http.get("/_sandbox/lookup_times")
            response.raise_for_status()
            times = [t for t in response.json()["times"] if window_start <= t <= window_end]
    # Inter-arrival rate over the window: (n - 1) intervals between the first and last lookup.
    served = len(times)
    window = times[-1] - times[0] if served > 1 else float("nan")
    rate = (served - 1) / window if served > 1 else float("nan")
    return {
        "rate_processes": 3.0,
        "rate_limit": RATE_LIMIT,
        "rate_window_s": window,
        "rate_lookups": float(served),
        "rate_per_s": rate,
        "rate_share_of_limit": rate / RATE_LIMIT,
        "rate_429s": float(last.get("rate_limited", 0)),
    }
