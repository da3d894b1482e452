"""Live alerts under the faults production meets, end to end: `worker` (and `serve`) processes
on loopback, the sandbox License API and the fake Slack served by this test process, a real
SQLite file or PostgreSQL.

Each test is one scenario; the figures it measured are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.processes import Child, Fleet, bot_args, clean_env
from bot.demo.fake_slack import FakeSlack
from bot.demo.slack_requests import SIGNING_SECRET
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.sandbox.seed import customer_record, license_user
from bot.store import Store
from bot.webhooks.signature import sign

PRODUCT = "acme-desktop"
SECRET = "whsec_production"
CHANNEL = "CPROD"
# Delivery and backoff do not depend on the dialect (the store's part runs on both in
# test_alerts_worker.py): the slow scenarios about them run on one store.
ON_SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def users(*specs: tuple[str, bool, int, int]) -> list[dict[str, Any]]:
    return [
        license_user(
            email, "User", "Name", active=active, total_activations=used, max_activations=maximum
        )
        for email, active, used, maximum in specs
    ]


def new_customer(sandbox: SandboxState, specs: list[dict[str, Any]] | None = None) -> str:
    email = f"prod-{uuid.uuid4().hex[:8]}@example.com"
    sandbox.set_users(
        PRODUCT,
        email,
        specs if specs is not None else users(("a@p.io", True, 1, 2), ("b@p.io", True, 0, 3)),
        customer=customer_record(email, "Pat", "Prod", "Prod Ltd"),
    )
    return email


def add_watch(database_url: str, email: str, channel: str = CHANNEL) -> int:
    async def add() -> int:
        store = await Store.open(database_url)
        try:
            watch, _ = await store.watches.add(
                product=PRODUCT,
                customer_email=email,
                channel_id=channel,
                threshold_pct=90,
                created_by="UCREATOR",
                now=datetime.now(UTC),
            )
            return watch.id
        finally:
            await store.close()

    return asyncio.run(add())


def outbox(database_url: str, watch_id: int) -> dict[str, int]:
    async def read() -> dict[str, int]:
        store = await Store.open(database_url)
        try:
            return await store.watches.alerts_by_status(watch_id)
        finally:
            await store.close()

    return asyncio.run(read())


def wake(database_url: str, email: str) -> None:
    async def accept() -> None:
        store = await Store.open(database_url)
        try:
            await store.webhooks.accept(
                str(uuid.uuid4()),
                "customer.updated",
                customer_emails={email},
                keys=set(),
                now=datetime.now(UTC),
                debounce=timedelta(seconds=1),
            )
        finally:
            await store.close()

    asyncio.run(accept())


def posts(slack: FakeSlack, channel: str = CHANNEL) -> list[Any]:
    """Messages Slack holds in the channel (however late it answered)."""
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.args.get("channel") == channel and c.response.get("ok")
    ]


def wait_until(condition: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def log_of(child: Child) -> str:
    return child.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def deployment(
    store_url: str, fake_slack: FakeSlack, sandbox: SandboxState, sandbox_url: str, tmp_path: Path
) -> Iterator[tuple[Fleet, dict[str, str]]]:
    env = clean_env(
        {
            "SLACK_BOT_TOKEN": fake_slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "LICENSESPRING_API_URL": sandbox_url,
            "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
            "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
            "LICENSESPRING_WEBHOOK_SECRET": SECRET,
            "DATABASE_URL": store_url,
            "ALERT_POLL_INTERVAL": "3600",
            "LOG_FORMAT": "json",
        }
    )
    with Fleet(tmp_path) as fleet:
        yield fleet, env


def send_webhook(http: httpx.Client, bot_url: str, email: str) -> int:
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "event": "customer.updated",
            "company_id": 1,
            "ts": int(time.time()),
            "data": {"customer": {"email": email}},
        }
    ).encode()
    headers = {"LicenseSpring-Signature": sign(SECRET, body, int(time.time()))}
    return http.post(f"{bot_url}/licensespring/webhooks", content=body, headers=headers).status_code


def test_a_webhook_whose_check_fails_is_alerted_within_seconds_of_recovery(
    deployment: tuple[Fleet, dict[str, str]],
    store_url: str,
    sandbox: SandboxState,
    fake_slack: FakeSlack,
) -> None:
    """LicenseSpring answers 503 for a few seconds: the woken check fails, its wake-up is kept
    and retried within seconds, and the change is alerted soon after LicenseSpring recovers
    (not at the next poll, an hour away)."""
    fleet, env = deployment
    email = new_customer(sandbox)
    add_watch(store_url, email)
    web = fleet.start("web", bot_args, env=env)
    fleet.start_worker("worker", env=env)
    wait_until(lambda: len(posts(fake_slack)) == 1, 20, "the confirmation")

    sandbox.set_fault(status=503, only_customer=email)
    sandbox.set_users(PRODUCT, email, users(("a@p.io", True, 2, 2), ("b@p.io", True, 0, 3)))
    with httpx.Client(timeout=10) as http:
        assert send_webhook(http, web.url, email) == 202
    outage_s = 6.0
    time.sleep(outage_s)
    failed_requests = sandbox.faulted
    sandbox.clear_faults()
    recovered = time.monotonic()
    wait_until(lambda: len(posts(fake_slack)) >= 2, 15, "the alert after recovery")
    seconds = time.monotonic() - recovered
    alerts = [json.dumps(p.args).lower() for p in posts(fake_slack)[1:]]
    assert any("limit" in text for text in alerts), alerts
    print(
        f"\n503 for {outage_s:.0f} s: {failed_requests} requests refused; "
        f"alert {seconds:.1f} s after recovery"
    )
    assert failed_requests <= 12  # a few checks (3 requests each), not a stream


@ON_SQLITE_ONLY
def test_a_slack_that_answers_after_11_s_gets_one_post(
    deployment: tuple[Fleet, dict[str, str]],
    store_url: str,
    sandbox: SandboxState,
    fake_slack: FakeSlack,
) -> None:
    """Slack posts the message but answers after the client's 10 s timeout, with a 2 s poll:
    the post is recorded as unconfirmed and never repeated."""
    fleet, env = deployment
    email = new_customer(sandbox)
    watch_id = add_watch(store_url, email)
    fake_slack.delay_next("chat.postMessage", 11, times=10)
    worker = fleet.start_worker("worker", env={**env, "ALERT_POLL_INTERVAL": "2"})
    wait_until(lambda: len(posts(fake_slack)) >= 1, 15, "the first post")
    observed_s = 25.0
    time.sleep(observed_s)
    count = len(posts(fake_slack))
    print(f"\nSlack answering after 11 s, poll 2 s: {count} post(s) in {observed_s:.0f} s")
    assert count == 1
    assert outbox(store_url, watch_id) == {"unconfirmed": 1}
    assert "alert_unconfirmed" in log_of(worker)


@ON_SQLITE_ONLY
def test_an_undecodable_answer_backs_off_instead_of_looping(
    deployment: tuple[Fleet, dict[str, str]],
    store_url: str,
    sandbox: SandboxState,
    fake_slack: FakeSlack,
) -> None:
    """A 200 that says gzip and is not: every check fails the same way; a woken watch is
    retried a few seconds later, then less and less often, never in a loop."""
    fleet, env = deployment
    email = new_customer(sandbox)
    watch_id = add_watch(store_url, email)
    sandbox.set_fault(malformed="gzip", only_customer=email)
    wake(store_url, email)
    fleet.start_worker("worker", env=env)
    window_s = 20.0
    time.sleep(window_s)
    requests = sandbox.faulted
    print(f"\nbad gzip: {requests} requests in {window_s:.0f} s")
    assert 2 <= requests <= 6  # the first check, then retries at about 2, 4, 8 s, 16 s
    # one "lookups keep failing" alert after the third failure, and no more
    assert len(posts(fake_slack)) <= 1
    assert sum(outbox(store_url, watch_id).values()) <= 1


@ON_SQLITE_ONLY
def test_sigterm_during_a_slow_post_gives_no_second_post_after_restart(
    deployment: tuple[Fleet, dict[str, str]],
    store_url: str,
    sandbox: SandboxState,
    fake_slack: FakeSlack,
) -> None:
    fleet, env = deployment
    email = new_customer(sandbox)
    watch_id = add_watch(store_url, email)
    fake_slack.delay_next("chat.postMessage", 11)
    fast = {**env, "ALERT_POLL_INTERVAL": "2"}
    worker = fleet.start_worker("worker", env=fast)
    wait_until(lambda: len(posts(fake_slack)) == 1, 15, "the slow post")
    worker.popen.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert worker.popen.wait(timeout=30) == 0
    stop_s = time.monotonic() - stopped
    fleet.start_worker("worker2", env=fast)
    time.sleep(6)
    count = len(posts(fake_slack))
    print(f"\nSIGTERM mid-post: stopped in {stop_s:.1f} s; {count} post(s) after restart")
    assert count == 1
    assert outbox(store_url, watch_id) == {"unconfirmed": 1}
    assert "alert_unconfirmed" in log_of(worker)


def test_a_burst_of_20_changes_in_5_s_gives_a_few_alerts_and_the_final_state(
    deployment: tuple[Fleet, dict[str, str]],
    store_url: str,
    sandbox: SandboxState,
    fake_slack: FakeSlack,
) -> None:
    fleet, env = deployment
    specs = [(f"u{i:02d}@p.io", True, 0, 2) for i in range(20)]
    email = new_customer(sandbox, users(*specs))
    add_watch(store_url, email)
    web = fleet.start("web", bot_args, env=env)
    fleet.start_worker("worker", env=env)
    wait_until(lambda: len(posts(fake_slack)) == 1, 20, "the confirmation")
    started = time.monotonic()
    with httpx.Client(timeout=10) as http:
        for i in range(20):  # one user deactivated every 0.25 s, each with its webhook
            specs[i] = (specs[i][0], False, 0, 2)
            sandbox.set_users(PRODUCT, email, users(*specs))
            assert send_webhook(http, web.url, email) == 202
            time.sleep(0.25)
    burst_s = time.monotonic() - started

    def final_state_alerted() -> bool:  # "active 20 → 0" or the last part of it
        return any("→ 0" in str(p.args.get("text")) for p in posts(fake_slack)[1:])

    settle_s = wait_until(final_state_alerted, 30, "the final state")
    time.sleep(3)  # room for one more
    alerts = posts(fake_slack)[1:]
    texts = [str(a.args.get("text")) for a in alerts]
    print(
        f"\nburst of 20 changes in {burst_s:.1f} s: {len(alerts)} alerts, the final state "
        f"{settle_s:.1f} s after the last change"
    )
    assert 1 <= len(alerts) <= 3, texts
    assert "→ 0" in texts[-1], texts  # the last one shows the final state
