"""The Management API scenario: a license user's e-mail (reverse lookup) and seats.

Two bots side by side on the same sandbox, cache off: one without a management key, one with.
Both APIs answer after the same latency L (the e2e plan's), so:

- seats: the summary of a customer with seat caps, the two bots alternating; the difference of
  their p50s is what seats cost (they are fetched concurrently with the License API lookup);
- reverse: a license user's e-mail on the bot with the key. Its upstream path is three
  requests one after another (the License API's "no such customer", the Management API's
  licenses of the user, the License API lookup of the customer found, with its seats read
  concurrently), so its overhead is e2e minus those three requests' p50s, each measured by
  sending it straight to the sandbox from the bench (nominally L each, a few ms more);
- pace: commands go one every PACE_S, as a person sends them; back to back, a reverse lookup
  (three Management API requests: the e-mail's seats, the user's licenses, the customer's
  seats) would measure the bot's own Management API rate limit (8 requests/s, burst 5);
- hung: the Management API never answers. The summary waits at most the 1.5 s seats grace
  after the License API; a reverse lookup ends at the lookup deadline (3 s here).
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.driver import Sample
from bench.harness import LOOKUP_PATH, PRODUCT, Bench, command_text
from bench.processes import Child
from bench.stats import percentile
from bot.licensespring.auth import HmacAuth
from bot.sandbox import seed

MANAGEMENT_FAULTS = "/_sandbox/management/faults"
HUNG_MS = 60_000
HUNG_DEADLINE_S = 3.0
PACE_S = 0.5


def _key_env(bench: Bench, *, deadline_s: float | None = None) -> dict[str, str]:
    env = {
        "LICENSESPRING_MANAGEMENT_API_URL": bench.sandbox.url,
        "LICENSESPRING_MANAGEMENT_API_KEY": seed.SANDBOX_MANAGEMENT_API_KEY,
    }
    if deadline_s is not None:
        env["LOOKUP_DEADLINE"] = str(deadline_s)
    return env


async def _management_latency(bench: Bench, latency_ms: int) -> None:
    async with bench.control() as http:
        (await http.post(MANAGEMENT_FAULTS, json={"latency_ms": latency_ms})).raise_for_status()


async def _paced(bench: Bench, bot: Child, texts: list[str]) -> list[Sample]:
    samples: list[Sample] = []
    for text in texts:
        samples += await bench.sequential(bot, [text], delivery_timeout=30.0)
        await asyncio.sleep(PACE_S)
    return samples


async def _direct_upstream_ms(bench: Bench, rounds: int) -> dict[str, float]:
    """The p50 of each upstream request a reverse lookup makes, sent straight to the sandbox
    from here: what the bot's overhead is measured over (the sandbox adds a few ms to its
    nominal latency per request)."""
    auth = HmacAuth(seed.SANDBOX_API_KEY, seed.SANDBOX_SHARED_KEY)
    management = {"Authorization": f"Api-Key {seed.SANDBOX_MANAGEMENT_API_KEY}"}
    timings: dict[str, list[float]] = {"miss": [], "user": [], "customer": []}
    async with httpx.AsyncClient(base_url=bench.sandbox.url, timeout=30.0) as http:
        for _ in range(rounds):
            for name, email in (("miss", seed.LICENSE_USER), ("customer", seed.ACME)):
                started = time.perf_counter()
                await http.get(
                    LOOKUP_PATH,
                    params={"product": PRODUCT, "customer": email},
                    headers=await auth.headers(),
                )
                timings[name].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await http.get(
                "/api/v1/licenses/",
                params={
                    "license_users__true_email": seed.LICENSE_USER,
                    "product_short_code": PRODUCT,
                    "limit": "100",
                    "offset": "0",
                },
                headers=management,
            )
            timings["user"].append((time.perf_counter() - started) * 1000)
    return {name: percentile(values, 50) for name, values in timings.items()}


def _e2e(samples: list[Sample]) -> list[float]:
    return [s.e2e_ms for s in samples if s.ack_ok and s.e2e_ms == s.e2e_ms]


async def management_api(bench: Bench) -> dict[str, float]:
    plan = bench.plan
    latency = plan.e2e_latency_ms
    rounds = max(5, plan.e2e_c1_requests // 2)
    summary = command_text(seed.TYPICAL)  # 8 / 15 seats, one license full
    user = command_text(seed.LICENSE_USER)
    with bench.children() as fleet:
        plain = await bench.start_bot(fleet, cache_ttl=0)
        keyed = await bench.start_bot(fleet, cache_ttl=0, extra_env=_key_env(bench))
        hung_bot = await bench.start_bot(
            fleet, cache_ttl=0, extra_env=_key_env(bench, deadline_s=HUNG_DEADLINE_S)
        )
        await bench.reset_sandbox(latency_ms=latency)
        await _management_latency(bench, latency)
        for bot in (plain, keyed, hung_bot):
            await bench.warm_up(bot, delivery=True)
        without_key: list[Sample] = []
        with_key: list[Sample] = []
        for _ in range(rounds):
            without_key += await _paced(bench, plain, [summary])
            with_key += await _paced(bench, keyed, [summary])
        reverse = await _paced(bench, keyed, [user] * rounds)
        upstream = await _direct_upstream_ms(bench, rounds)
        await _management_latency(bench, HUNG_MS)
        hung_summary = await bench.sequential(hung_bot, [summary] * 3, delivery_timeout=30.0)
        hung_reverse = await bench.sequential(hung_bot, [user] * 3, delivery_timeout=30.0)
    plain_p50 = percentile(_e2e(without_key), 50)
    keyed_p50 = percentile(_e2e(with_key), 50)
    reverse_e2e = _e2e(reverse)
    return {
        "mgmt_summary_no_key_p50_ms": plain_p50,
        "mgmt_summary_with_seats_p50_ms": keyed_p50,
        "mgmt_seats_added_p50_ms": keyed_p50 - plain_p50,
        "mgmt_reverse_e2e_p50_ms": percentile(reverse_e2e, 50),
        "mgmt_reverse_upstream_ms": sum(upstream.values()),
        "mgmt_reverse_overhead_p50_ms": percentile(reverse_e2e, 50) - sum(upstream.values()),
        "mgmt_reverse_overhead_p99_ms": percentile(reverse_e2e, 99) - sum(upstream.values()),
        # What a license user's e-mail costs over the customer's own e-mail: two round trips
        # (the License API's "no such customer", the Management API's licenses of the user).
        "mgmt_reverse_over_summary_p50_ms": percentile(reverse_e2e, 50) - keyed_p50,
        # ... minus those two requests: what the bot itself spends on a reverse lookup.
        "mgmt_reverse_added_overhead_p50_ms": percentile(reverse_e2e, 50)
        - keyed_p50
        - upstream["miss"]
        - upstream["user"],
        "mgmt_hung_summary_max_ms": max(_e2e(hung_summary), default=float("nan")),
        "mgmt_hung_reverse_max_ms": max(_e2e(hung_reverse), default=float("nan")),
        "mgmt_failed": float(
            sum(1 for s in [*without_key, *with_key, *reverse, *hung_summary] if not s.answer_ok)
        ),
        "mgmt_latency_ms": float(latency),
        "mgmt_hung_deadline_ms": HUNG_DEADLINE_S * 1000,
    }
