"""What every scenario shares: the plan, the sandbox, the receiver, the driver, bot settings."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.driver import Driver, Sample, TimedFakeSlack, running_receiver
from bench.processes import Child, Fleet, bot_args, clean_env, floor_args, sandbox_args
from bot.licensespring.auth import HmacAuth
from bot.sandbox import seed

BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
PRODUCT = "acme-desktop"
LOOKUP_PATH = "/api/v4/customer_license_users"
BENCH_DOMAIN = "bench.example"
BENCH_CUSTOMERS = 400
"""Distinct seeded customers: more than ever in flight at once, so none coalesce."""
BENCH_USERS_PER_CUSTOMER = 8
BASELINE_COMMIT = "9be55f6"
"""The commit the cpu scenario measures beside HEAD unless `--baseline` names another."""
BOT_RATE_LIMIT = 45.0
"""LICENSESPRING_RATE_LIMIT for the bot: its allowed maximum (default 20), so the client-side
limiter's spacing stays a small part of the concurrency figures. Its burst is 5 (50 - 45)."""


@dataclass(frozen=True)
class Plan:
    """How much each scenario does; `quick` runs every scenario briefly."""

    quick: bool
    repeat: int
    ack_latency_ms: int
    ack_c1_requests: int
    ack_waves: tuple[tuple[int, int], ...]  # (concurrency, waves)
    ack_burst: int
    e2e_latency_ms: int
    e2e_c1_requests: int
    e2e_c20_waves: int
    coalesce_requests: int
    coalesce_latency_ms: int
    cached_requests: int
    large_runs: int
    huge_runs: int
    startup_runs: int
    alert_watches: int
    alert_latency_ms: int
    webhook_watches: int
    webhook_burst: int
    rate_watches: int
    rate_in_flight: int
    rate_warmup_s: float
    rate_window_s: float
    cpu_requests: int = 3000
    cpu_requests_per_kind: int = 200
    cpu_baseline: str = BASELINE_COMMIT

    @classmethod
    def full(cls, repeat: int = 3) -> Plan:
        return cls(
            quick=False,
            repeat=repeat,
            ack_latency_ms=2000,
            ack_c1_requests=30,
            ack_waves=((20, 5), (100, 3)),
            ack_burst=200,
            e2e_latency_ms=100,
            e2e_c1_requests=40,
            e2e_c20_waves=5,
            coalesce_requests=100,
            coalesce_latency_ms=1000,
            cached_requests=30,
            large_runs=7,
            huge_runs=3,
            startup_runs=5,
            alert_watches=1000,
            alert_latency_ms=100,
            webhook_watches=100,
            webhook_burst=200,
            rate_watches=1000,
            rate_in_flight=20,
            rate_warmup_s=3.0,
            rate_window_s=20.0,
        )

    @classmethod
    def brief(cls, repeat: int = 1) -> Plan:
        return cls(
            quick=True,
            repeat=repeat,
            ack_latency_ms=500,
            ack_c1_requests=8,
            ack_waves=((20, 1), (100, 1)),
            ack_burst=200,
            e2e_latency_ms=50,
            e2e_c1_requests=8,
            e2e_c20_waves=1,
            coalesce_requests=100,
            coalesce_latency_ms=500,
            cached_requests=5,
            large_runs=1,
            huge_runs=1,
            startup_runs=1,
            alert_watches=100,
            alert_latency_ms=100,
            webhook_watches=20,
            webhook_burst=40,
            rate_watches=200,
            rate_in_flight=10,
            rate_warmup_s=2.0,
            rate_window_s=5.0,
            cpu_requests=200,
            cpu_requests_per_kind=20,
        )


def bench_customer(index: int) -> str:
    return f"bench-{index % BENCH_CUSTOMERS:04d}@{BENCH_DOMAIN}"


def command_text(email: str, product: str = PRODUCT) -> str:
    return f"{product} {email}"


class Bench:
    """The running sandbox and receiver, and helpers to start bots and floors against them."""

    def __init__(
        self, plan: Plan, workdir: Path, sandbox: Child, receiver: TimedFakeSlack, fleet: Fleet
    ) -> None:
        self.plan = plan
        self.workdir = workdir
        self.sandbox = sandbox
        self.receiver = receiver
        self.fleet = fleet
        self.driver = Driver(receiver, SIGNING_SECRET)
        self._next_customer = 0
        self._bodies: dict[str, bytes] = {}

    # --- children ---------------------------------------------------------------------

    def bot_env(self, *, cache_ttl: float) -> dict[str, str]:
        return clean_env(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": self.receiver.api_url,
                "LICENSESPRING_API_URL": self.sandbox.url,
                "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
                "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
                "LICENSESPRING_CACHE_TTL": str(cache_ttl),
                "LICENSESPRING_RATE_LIMIT": str(BOT_RATE_LIMIT),
                "DATABASE_URL": f"sqlite+aiosqlite:///{self.workdir / 'bench-bot.db'}",
                "LOG_LEVEL": "WARNING",
            }
        )

    def floor_env(self) -> dict[str, str]:
        return clean_env(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": self.receiver.api_url,
                "LOG_LEVEL": "WARNING",
            }
        )

    async def start_bot(
        self, fleet: Fleet, *, cache_ttl: float, extra_env: dict[str, str] | None = None
    ) -> Child:
        env = {**self.bot_env(cache_ttl=cache_ttl), **(extra_env or {})}
        return await asyncio.to_thread(fleet.start, "bot", bot_args, env=env)

    async def start_floor(self, fleet: Fleet) -> Child:
        return await asyncio.to_thread(fleet.start, "floor", floor_args, env=self.floor_env())

    @contextmanager
    def children(self) -> Iterator[Fleet]:
        """A fleet for one scenario run: its children are stopped when the block ends."""
        with Fleet(self.workdir) as fleet:
            yield fleet

    # --- sandbox control --------------------------------------------------------------

    @asynccontextmanager
    async def control(self) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=self.sandbox.url, timeout=60.0) as http:
            yield http

    async def reset_sandbox(self, *, latency_ms: int = 0) -> None:
        """Counters and faults cleared; then every lookup delayed by `latency_ms`."""
        async with self.control() as http:
            (await http.post("/_sandbox/reset")).raise_for_status()
            if latency_ms:
                fault = {"latency_ms": latency_ms}
                (await http.post("/_sandbox/faults", json=fault)).raise_for_status()

    async def sandbox_stats(self) -> dict[str, Any]:
        async with self.control() as http:
            response = await http.get("/_sandbox/stats")
            response.raise_for_status()
            stats: dict[str, Any] = response.json()
        return stats

    async def upstream_lookups(self, email: str | None = None) -> int:
        """Lookups the sandbox served since the last reset (of `email` only, if given)."""
        async with self.control() as http:
            response = await http.get("/_sandbox/stats")
            response.raise_for_status()
            stats: dict[str, Any] = response.json()
        if email is None:
            return int(stats["requests"].get(LOOKUP_PATH, 0))
        by_customer: dict[str, dict[str, int]] = stats["lookups_by_customer"]
        return int(by_customer.get(PRODUCT, {}).get(email.lower(), 0))

    async def seed_customers(self) -> None:
        """BENCH_CUSTOMERS small customers, so concurrent lookups need not share an answer."""
        semaphore = asyncio.Semaphore(16)
        async with self.control() as http:

            async def put(index: int) -> None:
                email = bench_customer(index)
                users = seed.generated_users(
                    BENCH_USERS_PER_CUSTOMER, seed=index, domain=BENCH_DOMAIN
                )
                customer = seed.customer_record(email, "Bench", f"No{index}", "Bench Ltd")
                async with semaphore:
                    response = await http.put(
                        f"/_sandbox/customers/{PRODUCT}/{email}",
                        json={"users": users, "customer": customer},
                    )
                    response.raise_for_status()

            await asyncio.gather(*(put(index) for index in range(BENCH_CUSTOMERS)))

    async def answer_body(self, email: str) -> bytes:
        """The sandbox's answer body for a customer, fetched (and built) once per bench run."""
        if email not in self._bodies:
            auth = HmacAuth(seed.SANDBOX_API_KEY, seed.SANDBOX_SHARED_KEY)
            async with self.control() as http:
                response = await http.get(
                    LOOKUP_PATH,
                    params={"product": PRODUCT, "customer": email},
                    headers=await auth.headers(),
                )
                response.raise_for_status()
                self._bodies[email] = response.content
        return self._bodies[email]

    # --- load -------------------------------------------------------------------------

    def distinct_customers(self, count: int) -> list[str]:
        """`count` commands for customers not used by the previous BENCH_CUSTOMERS - count."""
        texts = [command_text(bench_customer(self._next_customer + i)) for i in range(count)]
        self._next_customer += count
        return texts

    async def warm_up(self, child: Child, *, delivery: bool) -> None:
        """One command, so auth.test and first-use imports are not part of any figure."""
        async with self.driver.client() as http:
            sample = await self.driver.command(http, child.url, command_text(seed.TYPICAL))
            if not sample.ack_ok:
                raise RuntimeError(f"{child.name} did not ack the warm-up: {sample}")
            if delivery and await self.driver.await_deliveries([sample], within_s=30.0):
                raise RuntimeError(f"{child.name} did not answer the warm-up command")

    async def sequential(
        self, child: Child, texts: list[str], *, delivery_timeout: float
    ) -> list[Sample]:
        """One command at a time, each waiting for its response_url delivery."""
        samples: list[Sample] = []
        async with self.driver.client() as http:
            for text in texts:
                sample = await self.driver.command(http, child.url, text)
                await self.driver.await_deliveries([sample], within_s=delivery_timeout)
                samples.append(sample)
        return samples


@asynccontextmanager
async def open_bench(plan: Plan) -> AsyncIterator[Bench]:
    """Temp dir, receiver thread and sandbox process (seeded); all torn down at the end."""
    with (
        tempfile.TemporaryDirectory(prefix="license-users-bench-") as tmp,
        running_receiver(BOT_TOKEN) as receiver,
        Fleet(Path(tmp)) as fleet,
    ):
        sandbox = await asyncio.to_thread(
            fleet.start,
            "sandbox",
            lambda port: sandbox_args(port),
            env=clean_env({"LOG_LEVEL": "WARNING"}),
        )
        bench = Bench(plan, Path(tmp), sandbox, receiver, fleet)
        await bench.seed_customers()
        yield bench
