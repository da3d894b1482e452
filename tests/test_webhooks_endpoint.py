"""`POST /licensespring/webhooks` on the real app over loopback: signed, once, watches woken."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.alert_rules import snapshot_of
from bot.licensespring.models import parse_customer_license_users
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.store import CheckResult, Store, Watch
from bot.summary import summarise
from bot.webhooks.events import watch_keys
from bot.webhooks.signature import sign
from tests.slack_harness import RunningBot

SECRET = "whsec_endpoint_test"
PATH = "/licensespring/webhooks"
HEADER = "LicenseSpring-Signature"


def event(code: str = "customer.updated", **data: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "event": code, "company_id": 1, "ts": 1, "data": data}


def post(
    bot: RunningBot,
    payload: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    at: float | None = None,
    header: str = HEADER,
    signature: str | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    value = signature if signature is not None else sign(secret, body, int(at or time.time()))
    return bot.http.post(f"{bot.url}{PATH}", content=body, headers={header: value})


def metric(bot: RunningBot, outcome: str) -> float:
    text = bot.http.get(f"{bot.url}/metrics").text
    line = f'licensespring_webhooks_total{{outcome="{outcome}"}}'
    for row in text.splitlines():
        if row.startswith(line):
            return float(row.split()[-1])
    return 0.0


async def add_watch(store: Store, email: str, *, baseline: bool = False) -> Watch:
    watch, _ = await store.watches.add(
        product="acme-desktop",
        customer_email=email,
        channel_id="CHOOK",
        threshold_pct=90,
        created_by="U1",
        now=datetime.now(UTC),
    )
    if baseline:
        raw = json.dumps(seed.seed_customers()["acme-desktop"][email]).encode()
        summary = summarise("acme-desktop", parse_customer_license_users(raw))
        now = datetime.now(UTC)
        result = CheckResult(
            outcome="ok",
            snapshot=snapshot_of(summary).to_json(),
            consecutive_failures=0,
            failure_alerted=False,
            next_check_at=now.replace(year=now.year + 1),
            alerts=[],
            keys=watch_keys(summary),
        )
        assert await store.watches.save_baseline(watch, result, now=now)
    found = await store.watches.get(watch.id)
    assert found is not None
    return found


@pytest.fixture
async def hooked(start_bot: Any, store_url: str, sandbox: SandboxState) -> tuple[RunningBot, Store]:
    bot = start_bot(database_url=store_url, licensespring_webhook_secret=SECRET)
    store = await Store.open(store_url)
    yield bot, store  # type: ignore[misc]
    await store.close()


def test_without_a_secret_the_endpoint_is_not_there(start_bot: Any) -> None:
    bot = start_bot()
    assert post(bot, event()).status_code == 404


async def test_a_customer_event_wakes_that_customers_watches_once(
    hooked: tuple[RunningBot, Store], sandbox: SandboxState
) -> None:
    bot, store = hooked
    watch = await add_watch(store, seed.TYPICAL)
    other = await add_watch(store, seed.AT_LIMIT)
    payload = event("customer.updated", customer={"id": 1, "email": seed.TYPICAL.upper()})
    answer = post(bot, payload)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    woken = await store.watches.get(watch.id)
    assert woken is not None and woken.wake_at is not None and woken.woken_at is not None
    untouched = await store.watches.get(other.id)
    assert untouched is not None and untouched.wake_at is None
    assert sandbox.lookups == 0  # answered before any lookup

    first_wake = woken.wake_at
    again = post(bot, payload)  # a redelivery (freshly signed, same id)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    after = await store.watches.get(watch.id)
    assert after is not None and after.wake_at == first_wake
    assert metric(bot, "accepted") == 1 and metric(bot, "duplicate") == 1


async def test_a_license_event_finds_its_watch_through_the_last_snapshot(
    hooked: tuple[RunningBot, Store],
) -> None:
    bot, store = hooked
    watch = await add_watch(store, seed.TYPICAL, baseline=True)
    other = await add_watch(store, seed.AT_LIMIT, baseline=True)
    license_id = seed.seed_customers()["acme-desktop"][seed.TYPICAL]["users"][1]["license_id"]
    assert post(bot, event("license.updated", license={"id": license_id})).status_code == 202
    assert (await store.watches.get(watch.id)).wake_at is not None  # type: ignore[union-attr]
    assert (await store.watches.get(other.id)).wake_at is None  # type: ignore[union-attr]

    by_user = event(
        "license.activated", license={"id": 1}, license_user={"email": "alpha@full.example"}
    )
    assert post(bot, by_user).status_code == 202
    assert (await store.watches.get(other.id)).wake_at is not None  # type: ignore[union-attr]


async def test_several_events_for_one_customer_share_one_wake_up(
    hooked: tuple[RunningBot, Store],
) -> None:
    bot, store = hooked
    watch = await add_watch(store, seed.TYPICAL)
    for _ in range(5):
        payload = event("customer.updated", customer={"email": seed.TYPICAL})
        assert post(bot, payload).status_code == 202
    woken = await store.watches.get(watch.id)
    assert woken is not None and woken.wake_at is not None and woken.wake_latest is not None
    assert woken.wake_latest > woken.woken_at  # type: ignore[operator]
    # due once, a second after the first event: the rest joined it
    assert (woken.wake_at - woken.woken_at).total_seconds() == pytest.approx(1.0)  # type: ignore[operator]


async def test_bad_webhooks_are_refused_or_ignored_and_nothing_happens(
    hooked: tuple[RunningBot, Store], sandbox: SandboxState
) -> None:
    bot, store = hooked
    watch = await add_watch(store, seed.TYPICAL)
    payload = event("customer.updated", customer={"email": seed.TYPICAL})
    body = json.dumps(payload).encode()
    now = int(time.time())

    forged = post(bot, payload, secret="not-the-secret")
    assert forged.status_code == 401
    assert SECRET not in forged.text
    stale = post(bot, payload, at=now - 301)
    assert stale.status_code == 401
    missing = bot.http.post(f"{bot.url}{PATH}", content=body)
    assert missing.status_code == 401
    malformed = post(bot, payload, signature="t=abc,v1=zz")
    assert malformed.status_code == 401
    wrong_header = post(bot, payload, header="X-Signature")
    assert wrong_header.status_code == 401
    tampered = post(bot, body, signature=sign(SECRET, b'{"id":"other"}', now))
    assert tampered.status_code == 401

    oversized = b'{"id":"big","event":"customer.updated","pad":"' + b"x" * 1_000_001 + b'"}'
    big = post(bot, oversized)
    assert big.status_code == 413

    not_json = post(bot, b"this is not json")
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["message"]

    unknown = post(bot, event("product.created", product={"id": 3}))
    assert unknown.status_code == 200 and unknown.json()["status"] == "ignored"

    after = await store.watches.get(watch.id)
    assert after is not None and after.wake_at is None
    assert not await store.webhooks.seen(payload["id"])
    assert sandbox.lookups == 0
    assert metric(bot, "refused") == 8 and metric(bot, "ignored") == 1
    assert bot.http.get(f"{bot.url}/healthz").status_code == 200  # still serving

    # the genuine one still works afterwards
    assert post(bot, payload).status_code == 202


@pytest.mark.parametrize(
    "signature",
    [
        "t=" + "9" * 5000 + ",v1=" + "0" * 64,  # int() refuses it: was an HTTP 500
        "t=" + "1" * 40 + ",v1=" + "0" * 64,
        "t=1700000000,t=1700000001,v1=" + "0" * 64,
        "v1=" + "0" * 64,
        "t=1700000000",
        "t=,v1=",
        "t=1700000000,v1=" + "0" * 64 + "," * 3000,
    ],
)
async def test_any_malformed_signature_header_is_a_401(
    hooked: tuple[RunningBot, Store], sandbox: SandboxState, signature: str
) -> None:
    bot, store = hooked
    watch = await add_watch(store, seed.TYPICAL)
    payload = event("customer.updated", customer={"email": seed.TYPICAL})
    refused = post(bot, payload, signature=signature)
    assert refused.status_code == 401, refused.text
    assert refused.json()["message"] == "invalid signature"
    assert (await store.watches.get(watch.id)).wake_at is None  # type: ignore[union-attr]
    assert metric(bot, "refused") == 1
    assert post(bot, payload).status_code == 202  # the genuine one still works


def test_a_non_ascii_signature_header_is_a_401(start_bot: Any) -> None:
    bot = start_bot(licensespring_webhook_secret=SECRET)
    body = json.dumps(event()).encode()
    raw = ("t=1700000000,v1=" + "\u00e9" * 64).encode("latin-1")
    refused = bot.http.post(f"{bot.url}{PATH}", content=body, headers=[(HEADER.encode(), raw)])
    assert refused.status_code == 401


async def test_the_signature_header_name_is_configurable(start_bot: Any, store_url: str) -> None:
    bot = start_bot(
        database_url=store_url,
        licensespring_webhook_secret=SECRET,
        licensespring_webhook_signature_header="X-LS-Signature",
    )
    payload = event("license.reset", license={"id": 5})
    assert post(bot, payload).status_code == 401
    assert post(bot, payload, header="X-LS-Signature").status_code == 202


async def test_a_burst_of_concurrent_webhooks_is_recorded_once_each(
    hooked: tuple[RunningBot, Store],
) -> None:
    import asyncio

    bot, store = hooked
    watches = [await add_watch(store, email) for email in (seed.TYPICAL, seed.AT_LIMIT)]
    payloads = [
        event("customer.updated", customer={"email": email})
        for _ in range(30)
        for email in (seed.TYPICAL, seed.AT_LIMIT)
    ]
    async with httpx.AsyncClient(timeout=20) as http:

        async def send(payload: dict[str, Any]) -> int:
            body = json.dumps(payload).encode()
            headers = {HEADER: sign(SECRET, body, int(time.time()))}
            response = await http.post(f"{bot.url}{PATH}", content=body, headers=headers)
            return response.status_code

        statuses = await asyncio.gather(*(send(p) for p in payloads * 2))
    assert sorted(statuses) == [200] * 60 + [202] * 60
    for watch in watches:
        woken = await store.watches.get(watch.id)
        assert woken is not None and woken.wake_at is not None


async def test_a_burst_of_webhooks_uses_few_store_connections_and_readyz_still_answers(
    hooked: tuple[RunningBot, Store],
) -> None:
    import asyncio

    from bot.webhooks.endpoint import WEBHOOK_CONCURRENCY

    bot, store = hooked
    await add_watch(store, seed.TYPICAL)
    repository = bot.server.state.runtime.store.webhooks
    real_accept = repository.accept
    running = {"now": 0, "most": 0}

    async def counted_accept(*args: Any, **kwargs: Any) -> Any:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        try:
            await asyncio.sleep(0.01)  # a slower store: the burst piles up
            return await real_accept(*args, **kwargs)
        finally:
            running["now"] -= 1

    repository.accept = counted_accept
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def send() -> int:
            body = json.dumps(event("customer.updated", customer={"email": seed.TYPICAL}))
            headers = {HEADER: sign(SECRET, body.encode(), int(time.time()))}
            answer = await http.post(f"{bot.url}{PATH}", content=body, headers=headers)
            return answer.status_code

        burst = [asyncio.create_task(send()) for _ in range(300)]
        while running["most"] < WEBHOOK_CONCURRENCY:  # noqa: ASYNC110 - the server's thread
            await asyncio.sleep(0.01)
        started = time.monotonic()
        ready = await http.get(f"{bot.url}/readyz")
        ready_s = time.monotonic() - started
        statuses = await asyncio.gather(*burst)
    print(f"\n300 webhooks at once: {running['most']} in the store at most; readyz {ready_s:.2f} s")
    # recorded, or (past SLOT_WAIT_S in the queue, on a loaded machine) 503: sent again later
    assert set(statuses) <= {202, 503} and statuses.count(202) >= 100, statuses
    assert running["most"] <= WEBHOOK_CONCURRENCY
    assert ready.status_code == 200


async def test_a_store_failure_answers_503_so_the_event_comes_again(
    hooked: tuple[RunningBot, Store],
) -> None:
    from sqlalchemy.exc import OperationalError

    bot, store = hooked
    watch = await add_watch(store, seed.TYPICAL)
    repository = bot.server.state.runtime.store.webhooks
    real_accept = repository.accept
    failures = {"left": 99}

    async def flaky_accept(*args: Any, **kwargs: Any) -> Any:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError("INSERT ...", {}, OSError("connection reset"))
        return await real_accept(*args, **kwargs)

    repository.accept = flaky_accept
    try:
        payload = event("customer.updated", customer={"email": seed.TYPICAL})
        down = post(bot, payload)
        assert down.status_code == 503
        assert "retry later" in down.json()["message"]
        assert (await store.watches.get(watch.id)).wake_at is None  # type: ignore[union-attr]
        assert metric(bot, "unavailable") == 1

        failures["left"] = 1  # one refused transaction is retried at once
        assert post(bot, payload).status_code == 202  # the redelivery is not a duplicate
        assert (await store.watches.get(watch.id)).wake_at is not None  # type: ignore[union-attr]
    finally:
        repository.accept = real_accept
