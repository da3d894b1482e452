"""The alert poller end to end: real store(s), the sandbox changed at run time, the fake Slack."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.alerts.poller import CycleStats, Poller, PollerOptions
from bot.demo.fake_slack import FakeSlack
from bot.licensespring.client import LicenseApiClient
from bot.sandbox.app import SandboxState
from bot.sandbox.seed import customer_record, license_user
from bot.slack.app import build_web_client
from bot.store import Store
from tests.conftest import SettingsFactory
from tests.support.leaks import scan_process_output

PRODUCT = "acme-desktop"
INTERVAL = timedelta(seconds=900)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def next_cycle(self) -> None:
        self.now += INTERVAL * 1.2


def users(*specs: tuple[str, bool, int, int]) -> list[dict[str, Any]]:
    return [
        license_user(
            email,
            email.split("@")[0].title(),
            "User",
            active=active,
            total_activations=used,
            max_activations=maximum,
        )
        for email, active, used, maximum in specs
    ]


@pytest.fixture
def customer(sandbox: SandboxState) -> str:
    """A fresh customer of its own, so tests can change its users freely."""
    email = f"watched-{uuid.uuid4().hex[:8]}@example.com"
    sandbox.set_users(
        PRODUCT,
        email,
        users(("a@w.io", True, 1, 3), ("b@w.io", True, 2, 3), ("c@w.io", False, 0, 1)),
        customer=customer_record(email, "Wanda", "Watched", "Watched Ltd"),
    )
    return email


PollerFactory = Callable[..., Poller]


@pytest.fixture
async def make_poller(
    make_settings: SettingsFactory, fake_slack: FakeSlack, store_url: str
) -> AsyncIterator[PollerFactory]:
    """Pollers with their own Store and clients (as separate worker processes would have)."""
    opened: list[tuple[Store, LicenseApiClient]] = []
    settings = make_settings(
        slack_bot_token=fake_slack.bot_token,
        slack_api_url=fake_slack.api_url,
        database_url=store_url,
    )

    async def build(clock: Clock, **options: Any) -> Poller:
        store = await Store.open(store_url)
        client = LicenseApiClient.from_settings(settings)
        opened.append((store, client))
        return Poller(
            store,
            client,
            build_web_client(settings),
            PollerOptions(interval_s=INTERVAL.total_seconds(), channel_spacing_s=0.0, **options),
            clock=clock,
        )

    yield build  # type: ignore[misc]
    for store, client in opened:
        await client.aclose()
        await store.close()


async def add_watch(poller: Poller, email: str, channel: str = "CALERT", **extra: Any) -> int:
    watch, _ = await poller.store.watches.add(
        product=PRODUCT,
        customer_email=email,
        channel_id=channel,
        threshold_pct=extra.get("threshold_pct", 90),
        created_by="UCREATOR",
        now=poller._clock(),
    )
    return watch.id


def alert_posts(slack: FakeSlack, channel: str = "CALERT") -> list[dict[str, Any]]:
    """Messages Slack accepted in the channel (refused attempts are recorded too)."""
    return [
        c.args
        for c in slack.calls("chat.postMessage")
        if c.args.get("channel") == channel and c.response.get("ok")
    ]


async def test_first_poll_confirms_then_each_change_alerts_once(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    await add_watch(poller, customer)

    stats = await poller.run_cycle()
    assert stats.checked == 1
    posts = alert_posts(fake_slack)
    assert len(posts) == 1
    assert "Watched Ltd" in posts[0]["text"] or "Wanda" in posts[0]["text"]

    clock.next_cycle()
    await poller.run_cycle()
    assert len(alert_posts(fake_slack)) == 1  # nothing changed, nothing posted

    sandbox.set_users(
        PRODUCT,
        customer,
        users(
            ("a@w.io", True, 3, 3),
            ("b@w.io", False, 2, 3),
            ("c@w.io", False, 0, 1),
            ("d@w.io", True, 0, 2),
        ),
    )
    clock.next_cycle()
    await poller.run_cycle()
    new = alert_posts(fake_slack)[1:]
    texts = " | ".join(p["text"] for p in new)
    assert len(new) == 3, texts  # reached limit (a), deactivated (b), added (d)
    assert "a@w.io" in json.dumps([p["blocks"] for p in new])
    for _ in range(2):
        clock.next_cycle()
        await poller.run_cycle()
    assert len(alert_posts(fake_slack)) == 4  # no repeats


async def test_threshold_crossing_and_recovery(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    await add_watch(poller, customer, threshold_pct=80)
    await poller.run_cycle()
    inactive = ("c@w.io", False, 0, 0)  # counts in the headline, adds no activations or maximum
    sandbox.set_users(
        PRODUCT, customer, users(("a@w.io", True, 2, 3), ("b@w.io", True, 3, 3), inactive)
    )
    clock.next_cycle()
    await poller.run_cycle()  # 5/6 = 83%: crossed (and b reached its limit)
    sandbox.set_users(
        PRODUCT, customer, users(("a@w.io", True, 1, 3), ("b@w.io", True, 2, 3), inactive)
    )
    clock.next_cycle()
    await poller.run_cycle()  # 3/6 = 50%: recovered
    kinds = [p["text"] for p in alert_posts(fake_slack)]
    assert len(kinds) == 4, kinds


async def test_no_repeat_after_restart_and_pending_alerts_survive(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    clock = Clock()
    first = await make_poller(clock, delivery_backoff_s=(0.05, 0.05))
    await add_watch(first, customer)
    # the baseline cannot be posted yet: refused at once and at both retries
    fake_slack.fail_next("chat.postMessage", status=500, times=3)
    await first.run_cycle()
    assert alert_posts(fake_slack) == []
    assert len(fake_slack.calls("chat.postMessage")) == 3
    # "restart": a new worker with its own store connection and clients
    second = await make_poller(clock)
    clock.next_cycle()
    await second.run_cycle()
    assert len(alert_posts(fake_slack)) == 1  # the pending baseline, once
    clock.next_cycle()
    await second.run_cycle()
    third = await make_poller(clock)
    clock.next_cycle()
    await third.run_cycle()
    assert len(alert_posts(fake_slack)) == 1


async def test_two_workers_never_post_the_same_alert_twice(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, store_url: str
) -> None:
    clock = Clock()
    workers = [await make_poller(clock, batch=5), await make_poller(clock, batch=5)]
    emails = []
    for i in range(12):
        email = f"pair-{i}-{uuid.uuid4().hex[:6]}@example.com"
        sandbox.set_users(PRODUCT, email, users(("a@w.io", True, 1, 2)))
        emails.append(email)
        await add_watch(workers[0], email)
    await asyncio.gather(*(w.run_cycle() for w in workers))
    assert len(alert_posts(fake_slack)) == 12  # one baseline each
    for email in emails:
        sandbox.set_users(PRODUCT, email, users(("a@w.io", True, 2, 2), ("n@w.io", True, 0, 1)))
    clock.next_cycle()
    stats = await asyncio.gather(*(w.run_cycle() for w in workers))
    assert sum(s.checked for s in stats) == 12
    assert all(s.checked > 0 for s in stats) or store_url.startswith("sqlite")
    posts = alert_posts(fake_slack)
    assert len(posts) == 12 + 24  # reached limit + added, for each watch, once
    texts = [json.dumps(p["blocks"]) for p in posts]
    assert len(set(texts)) == len(texts)


async def test_failing_watch_alerts_once_and_recovers(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    watch_id = await add_watch(poller, customer)
    await poller.run_cycle()
    poller.client.options = dataclasses.replace(poller.client.options, max_retries=0)
    sandbox.set_fault(status=500, code="internal_error", message="down", only_customer=customer)
    for _ in range(5):
        clock.now += INTERVAL * 5  # past any backoff
        await poller.run_cycle()
    posts = alert_posts(fake_slack)
    assert len(posts) == 2, [p["text"] for p in posts]  # baseline + one "failing"
    watch = await poller.store.watches.get(watch_id)
    assert watch is not None
    assert watch.consecutive_failures == 5
    assert watch.next_check_at is not None
    assert watch.next_check_at - watch.last_checked_at > INTERVAL * 3  # backed off
    sandbox.clear_faults()
    clock.now += INTERVAL * 5
    await poller.run_cycle()
    assert len(alert_posts(fake_slack)) == 3  # recovered
    clock.next_cycle()
    await poller.run_cycle()
    assert len(alert_posts(fake_slack)) == 3


async def test_slack_429_is_retried_and_posted_once(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    poller = await make_poller(Clock())
    await add_watch(poller, customer)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    await poller.run_cycle()
    assert len(alert_posts(fake_slack)) == 1
    assert len(fake_slack.calls("chat.postMessage")) == 2  # the 429, then the retry


async def test_not_in_channel_pauses_the_watch_and_tells_its_creator(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    watch_id = await add_watch(poller, customer, channel="CGONE")
    fake_slack.set_channel("CGONE", is_member=False)
    await poller.run_cycle()
    watch = await poller.store.watches.get(watch_id)
    assert watch is not None
    assert watch.paused_reason == "not_in_channel"
    dm = [c.args for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == "UCREATOR"]
    assert len(dm) == 1
    assert "/invite" in dm[0]["text"] or "/invite" in json.dumps(dm[0].get("blocks"))
    clock.next_cycle()
    stats = await poller.run_cycle()
    assert stats.checked == 0  # paused watches are not polled


async def test_snoozed_watch_records_but_does_not_post(
    make_poller: PollerFactory, sandbox: SandboxState, fake_slack: FakeSlack, customer: str
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    watch_id = await add_watch(poller, customer)
    await poller.run_cycle()
    await poller.store.watches.snooze(watch_id, clock.now + timedelta(hours=24))
    sandbox.set_users(PRODUCT, customer, users(("z@w.io", True, 0, 1)))
    clock.next_cycle()
    await poller.run_cycle()
    assert len(alert_posts(fake_slack)) == 1
    assert (await poller.store.watches.alerts_by_status(watch_id)).get("suppressed", 0) >= 1


def test_two_worker_processes_post_each_baseline_once_and_stop_on_sigterm(
    sandbox: SandboxState,
    sandbox_url: str,
    fake_slack: FakeSlack,
    store_url: str,
    tmp_path: Any,
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from bot.sandbox import seed

    async def create_watches() -> None:
        store = await Store.open(store_url)
        try:
            for i in range(10):
                email = f"proc-{i}-{uuid.uuid4().hex[:6]}@example.com"
                sandbox.set_users(PRODUCT, email, users(("a@w.io", True, 1, 2)))
                await store.watches.add(
                    product=PRODUCT,
                    customer_email=email,
                    channel_id=f"CPROC{i}",
                    threshold_pct=90,
                    created_by="U1",
                    now=datetime.now(UTC),
                )
        finally:
            await store.close()

    asyncio.run(create_watches())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSESPRING_"))},
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_API_URL": fake_slack.api_url,
        "LICENSESPRING_API_URL": sandbox_url,
        "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
        "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
        "DATABASE_URL": store_url,
        "LOG_FORMAT": "json",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:

        def posted() -> list[str]:
            return [
                c.args["channel"]
                for c in fake_slack.calls("chat.postMessage")
                if c.args.get("channel", "").startswith("CPROC") and c.response.get("ok")
            ]

        deadline = time.monotonic() + 30
        while len(posted()) < 10:
            assert time.monotonic() < deadline, "baselines were not posted"
            time.sleep(0.1)
        time.sleep(1.0)  # time for any duplicate to show up
        assert sorted(posted()) == sorted(f"CPROC{i}" for i in range(10))
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=30) for worker in workers]
        for stdout, stderr in outputs:
            scan_process_output("python -m bot worker", stdout, stderr)
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
        assert "poller_stopped" in stderr
        assert fake_slack.bot_token not in stderr


@pytest.mark.parametrize(("interval_s", "warned"), [(1, True), (59, True), (60, False)])
async def test_a_short_poll_interval_runs_with_one_warning_at_start(
    make_poller: PollerFactory, interval_s: int, warned: bool
) -> None:
    import dataclasses

    from structlog.testing import capture_logs

    poller = await make_poller(Clock())
    poller.options = dataclasses.replace(poller.options, interval_s=interval_s)
    stop = asyncio.Event()
    stop.set()
    with capture_logs() as logs:
        await poller.run_forever(stop)
    short = [entry for entry in logs if entry["event"] == "poll_interval_short"]
    assert len(short) == (1 if warned else 0)
    if warned:
        assert short[0]["log_level"] == "warning"
        assert short[0]["interval_s"] == interval_s


# --- watches woken by webhooks ---------------------------------------------------------

WAKE_DEBOUNCE = timedelta(seconds=1)


async def wake(store: Store, email: str, at: datetime) -> list[int] | None:
    return await store.webhooks.accept(
        str(uuid.uuid4()),
        "customer.updated",
        customer_emails={email},
        keys=set(),
        now=at,
        debounce=WAKE_DEBOUNCE,
    )


async def test_a_woken_watch_is_due_after_the_debounce_not_the_interval(
    make_poller: PollerFactory, customer: str, sandbox: SandboxState, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    seconds: list[float] = []
    poller: Poller = await make_poller(clock)
    poller._on_webhook_alert = seconds.append
    watch, _ = await poller.store.watches.add(
        product=PRODUCT,
        customer_email=customer,
        channel_id="CALERT",
        threshold_pct=90,
        created_by="U1",
        now=clock.now,
    )
    assert (await poller.run_cycle()).checked == 1  # the baseline
    assert len(alert_posts(fake_slack)) == 1
    assert (await poller.run_cycle()).checked == 0  # next poll is 15 minutes away

    sandbox.set_users(PRODUCT, customer, users(("a@w.io", True, 3, 3), ("b@w.io", True, 2, 3)))
    first = clock.now
    assert await wake(poller.store, customer, first) == [watch.id]
    assert await wake(poller.store, customer, first + timedelta(milliseconds=400)) == [watch.id]
    assert (await poller.run_cycle()).checked == 0  # within the debounce: not yet
    clock.now = first + timedelta(seconds=1.1)
    stats = await poller.run_cycle()
    assert stats.checked == 1  # two events, one check
    assert len(alert_posts(fake_slack)) > 1
    assert len(seconds) == 1 and seconds[0] > 0
    assert (await poller.run_cycle()).checked == 0
    after = await poller.store.watches.get(watch.id)
    assert after is not None and after.wake_latest is None and after.woken_at is None
    # webhooks in the next 10 s wait for the end of that (bursts are coalesced)
    assert after.wake_at == clock.now + timedelta(seconds=poller.options.coalesce_s)


async def test_an_event_after_the_lookup_was_sent_causes_one_more_check(
    make_poller: PollerFactory, customer: str, sandbox: SandboxState
) -> None:
    poller: Poller = await make_poller(datetime.now, coalesce_s=0.0)
    poller._clock = lambda: datetime.now(UTC)
    watch, _ = await poller.store.watches.add(
        product=PRODUCT,
        customer_email=customer,
        channel_id="CALERT",
        threshold_pct=90,
        created_by="U1",
        now=datetime.now(UTC),
    )
    await poller.run_cycle()
    # an event before the check: answered by it
    await wake(poller.store, customer, datetime.now(UTC) - timedelta(seconds=2))
    assert (await poller.run_cycle()).checked == 1
    answered = await poller.store.watches.get(watch.id)
    assert answered is not None and answered.wake_latest is None

    # An event while the lookup is on its way, from a web process whose clock is 2 s
    # behind: the answer may predate it, so the watch is checked once more, at once. (Which
    # came first is decided on the database's clock, not on either process's.)
    sandbox.set_fault(latency_ms=600)
    await wake(poller.store, customer, datetime.now(UTC) - timedelta(seconds=2))
    before = sandbox.lookups
    cycle = asyncio.create_task(poller.run_cycle())
    while not sandbox.in_flight:  # noqa: ASYNC110 - a counter the server's thread moves
        await asyncio.sleep(0.01)
    await wake(poller.store, customer, datetime.now(UTC) - timedelta(seconds=2))
    assert (await cycle).checked == 2
    assert sandbox.lookups - before == 2
    done = await poller.store.watches.get(watch.id)
    assert done is not None and done.wake_latest is None and done.wake_at is None
    assert (await poller.run_cycle()).checked == 0


async def test_paused_watches_are_not_woken(make_poller: PollerFactory, customer: str) -> None:
    clock = Clock()
    poller: Poller = await make_poller(clock)
    watch, _ = await poller.store.watches.add(
        product=PRODUCT,
        customer_email=customer,
        channel_id="CALERT",
        threshold_pct=90,
        created_by="U1",
        now=clock.now,
    )
    await poller.store.watches.pause(watch.id, "not_in_channel")
    assert await wake(poller.store, customer, clock.now) == []


# --- failures of every kind back off; delivery is fenced and never repeated ----------------


async def test_an_unexpected_exception_in_a_check_backs_the_watch_off(
    make_poller: PollerFactory, customer: str, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    watch_id = await add_watch(poller, customer)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug nobody mapped")

    poller.lookups.refresh = broken  # type: ignore[method-assign]
    async with asyncio.timeout(10):  # a watch re-claimed at once would keep this cycle going
        stats = await poller.run_cycle()
    assert stats.checked == 1 and stats.failed == 1
    assert (await poller.run_cycle()).checked == 0  # not re-claimed at once
    watch = await poller.store.watches.get(watch_id)
    assert watch is not None and watch.consecutive_failures == 1
    assert watch.last_outcome == "check_failed"
    assert watch.next_check_at is not None and watch.next_check_at > clock.now + INTERVAL / 2


async def test_a_failed_woken_check_keeps_its_wake_up_and_retries_within_seconds(
    make_poller: PollerFactory, customer: str, sandbox: SandboxState, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    watch_id = await add_watch(poller, customer)
    await poller.run_cycle()
    poller.client.options = dataclasses.replace(poller.client.options, max_retries=0)
    sandbox.set_fault(status=503, only_customer=customer)
    await wake(poller.store, customer, clock.now)
    delays = []
    for _ in range(4):
        clock.now += timedelta(seconds=60)  # past the debounce and any retry so far
        assert (await poller.run_cycle()).failed == 1
        watch = await poller.store.watches.get(watch_id)
        assert watch is not None and watch.wake_latest is not None  # still wanted
        assert watch.wake_at is not None
        delays.append((watch.wake_at - clock.now).total_seconds())
    assert delays == [2.0, 4.0, 8.0, 16.0]
    sandbox.clear_faults()
    clock.now += timedelta(seconds=20)
    assert (await poller.run_cycle()).failed == 0
    answered = await poller.store.watches.get(watch_id)
    assert answered is not None and answered.wake_latest is None


async def test_delivery_needs_the_lease(
    make_poller: PollerFactory, customer: str, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    await add_watch(poller, customer)
    [watch] = await poller.store.watches.claim_due(
        poller.owner, now=clock.now, lease=timedelta(minutes=5), limit=1
    )
    poller.deliver = lambda w: asyncio.sleep(0, 0)  # type: ignore[assignment,method-assign]
    await poller.check(watch, CycleStats())  # the baseline is in the outbox, not posted
    # the lease runs out, the watch falls due, and another worker takes it
    clock.next_cycle()
    other = await make_poller(clock)
    assert [
        w.id
        for w in await other.store.watches.claim_due(
            other.owner, now=clock.now, lease=timedelta(minutes=5), limit=1
        )
    ] == [watch.id]
    del poller.deliver
    assert await poller.deliver(watch) == 0
    assert alert_posts(fake_slack) == []
    assert await poller.store.watches.alerts_by_status(watch.id) == {"pending": 1}


async def test_a_post_a_crashed_worker_left_unfinished_is_never_repeated(
    make_poller: PollerFactory, customer: str, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    poller = await make_poller(clock)
    await add_watch(poller, customer)
    [watch] = await poller.store.watches.claim_due(
        poller.owner, now=clock.now, lease=timedelta(minutes=5), limit=1
    )
    poller.deliver = lambda w: asyncio.sleep(0, 0)  # type: ignore[assignment,method-assign]
    await poller.check(watch, CycleStats())
    [alert] = await poller.store.watches.pending_alerts(watch.id)
    # it recorded the attempt, sent the post, and died before Slack's answer came back
    assert await poller.store.watches.start_posting(alert, poller.owner, now=clock.now)
    clock.next_cycle()
    successor = await make_poller(clock)
    with capture_logs() as logs:
        await successor.run_cycle()
    assert alert_posts(fake_slack) == []
    assert await successor.store.watches.alerts_by_status(watch.id) == {"unconfirmed": 1}
    assert any(entry["event"] == "alert_unconfirmed" for entry in logs)


async def test_a_store_outage_is_logged_once_with_a_count(make_poller: PollerFactory) -> None:
    poller = await make_poller(Clock())
    failures = {"left": 6}
    real_claim = poller.store.watches.claim_due

    async def down(*args: Any, **kwargs: Any) -> Any:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionRefusedError("the database is down")
        return await real_claim(*args, **kwargs)

    poller.store.watches.claim_due = down  # type: ignore[method-assign]
    poller.options = dataclasses.replace(poller.options, idle_tick_s=0.01)
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(poller.run_forever(stop))
        while failures["left"]:  # noqa: ASYNC110 - waiting for the outage to pass
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.5)  # the loop waits longer after each failure: 0.64 s after 6
        stop.set()
        await task
    events = [entry for entry in logs if entry["event"].startswith("poll_cycle_")]
    assert [entry["event"] for entry in events] == ["poll_cycle_failed", "poll_cycle_recovered"]
    assert events[1]["failed_cycles"] == 6


async def test_the_per_channel_pacing_state_stays_bounded(
    make_poller: PollerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker posting into ever new channels forgets the idle ones past the bound."""
    from bot.alerts import poller as poller_module
    from bot.store.watches import OutboxAlert

    monkeypatch.setattr(poller_module, "MAX_PACED_CHANNELS", 5)
    poller = await make_poller(Clock())
    for index in range(20):
        alert = OutboxAlert(
            watch_id=1,
            alert_key=f"k{index}",
            channel_id=f"CPACE{index}",
            payload={"text": "x", "blocks": []},
            attempts=0,
        )
        await poller._post(alert)
    assert len(poller._channel_next_post) <= 6
    assert len(poller._channel_locks) <= 6
