"""End to end with real processes on loopback: the sandbox sends signed webhooks to a `serve`
process, two `worker` processes share the watches, alerts reach the (fake) Slack channel.

The poll interval is an hour, so every alert here comes from a webhook.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.processes import Fleet, bot_args, clean_env, sandbox_args
from bot.demo.fake_slack import FakeSlack
from bot.demo.servers import free_port
from bot.demo.slack_requests import SIGNING_SECRET, post_signed_sync, slash_command_body
from bot.sandbox import seed
from bot.webhooks.signature import sign

SECRET = "whsec_e2e"
PRODUCT = "acme-desktop"
CHANNEL = "CE2EHOOK"
ALERT_DEADLINE_S = 5.0
COALESCE_S = 10.0  # ALERT_COALESCE_SECONDS' default


def channel_posts(slack: FakeSlack) -> list[Any]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.args.get("channel") == CHANNEL and c.response.get("ok")
    ]


def wait_posts(slack: FakeSlack, count: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = channel_posts(slack)
        if len(posts) >= count:
            return posts
        time.sleep(0.02)
    texts = [p.args.get("text") for p in channel_posts(slack)]
    raise AssertionError(f"expected {count} posts in {CHANNEL}, got {texts}")


@pytest.fixture
def deployment(
    store_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> Iterator[tuple[Fleet, str, str]]:
    database_url = store_url
    if store_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    bot_port = free_port()
    env = clean_env(
        {
            "SLACK_BOT_TOKEN": fake_slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "LICENSESPRING_API_KEY": seed.SANDBOX_API_KEY,
            "LICENSESPRING_SHARED_KEY": seed.SANDBOX_SHARED_KEY,
            "LICENSESPRING_PRODUCTS": ",".join(seed.USER_PRODUCTS),
            "DATABASE_URL": database_url,
            "ALERT_POLL_INTERVAL": "3600",
            "LICENSESPRING_WEBHOOK_SECRET": SECRET,
            "LOG_FORMAT": "json",
        }
    )
    hook_url = f"http://127.0.0.1:{bot_port}/licensespring/webhooks"
    with Fleet(tmp_path) as fleet:
        sandbox = fleet.start(
            "sandbox",
            lambda port: [
                *sandbox_args(port),
                "--webhook-url",
                hook_url,
                "--webhook-secret",
                SECRET,
            ],
            env=clean_env({}),
        )
        env["LICENSESPRING_API_URL"] = sandbox.url
        web = fleet.start("web", bot_args, env=env, port=bot_port)
        for index in range(2):
            fleet.start_worker(f"worker{index}", env=env)
        yield fleet, web.url, sandbox.url


def test_webhooks_drive_live_alerts_once_across_two_workers(
    deployment: tuple[Fleet, str, str], fake_slack: FakeSlack
) -> None:
    fleet, bot_url, sandbox_url = deployment
    fake_slack.set_channel(CHANNEL)
    email = f"live-{uuid.uuid4().hex[:8]}@example.com"
    users = [
        seed.license_user("a@live.example", "Ann", "Live", max_activations=2, total_activations=1),
        seed.license_user("b@live.example", "Bob", "Live", max_activations=3, total_activations=0),
    ]
    with httpx.Client(timeout=10) as http:
        created = http.put(
            f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{email}",
            json={"users": users, "customer": seed.customer_record(email, "Liv", "E")},
        )
        assert created.status_code == 200

        response_url = fake_slack.new_response_url()
        body = slash_command_body(
            f"watch {PRODUCT} {email}", response_url=response_url, channel_id=CHANNEL
        )
        assert post_signed_sync(http, f"{bot_url}/slack/events", body).status_code == 200
        rid = response_url.rsplit("/", 1)[1]
        answer = fake_slack.wait_for_responses(1, response_id=rid, timeout=10)[-1].body
        assert "Watching" in answer["text"], answer
        [confirmation] = wait_posts(fake_slack, 1, timeout=10)
        stats = http.get(f"{sandbox_url}/_sandbox/stats").json()

        # A forged webhook: 401, and nobody looks anything up because of it.
        forged = json.dumps(
            {"id": "forged", "event": "customer.updated", "data": {"customer": {"email": email}}}
        ).encode()
        refused = http.post(
            f"{bot_url}/licensespring/webhooks",
            content=forged,
            headers={"LicenseSpring-Signature": sign("wrong", forged, int(time.time()))},
        )
        assert refused.status_code == 401

        # A user reaches the activation limit: the sandbox signs and sends license.activated.
        changed_at = time.time()
        patched = http.patch(
            f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{email}/users/a@live.example",
            json={"total_activations": 2},
        )
        assert patched.status_code == 200 and patched.json()["webhooks"]
        posts = wait_posts(fake_slack, 2, timeout=ALERT_DEADLINE_S + 1)
        assert posts[1].received_at - changed_at <= ALERT_DEADLINE_S
        assert "limit" in json.dumps(posts[1].args).lower()
        lookups_for_alert = http.get(f"{sandbox_url}/_sandbox/stats").json()["lookups"]
        assert lookups_for_alert - stats["lookups"] == 1  # one check, none for the forgery

        # The same event delivered twice: one alert.
        assert http.post(f"{sandbox_url}/_sandbox/webhooks", json={"url": None}).status_code == 200
        assert (
            http.patch(
                f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{email}/users/b@live.example",
                json={"is_active": False},
            ).json()["webhooks"]
            == []
        )
        event = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "event": "customer.updated",
                "company_id": 1,
                "ts": int(time.time()),
                "data": {"customer": {"email": email}},
            }
        ).encode()
        statuses = [
            http.post(
                f"{bot_url}/licensespring/webhooks",
                content=event,
                headers={"LicenseSpring-Signature": sign(SECRET, event, int(time.time()))},
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [202, 200]
        # Within ALERT_COALESCE_SECONDS (10) of the last woken check: it waits for the end of
        # that (a burst gives one alert per 10 s), then comes at once.
        third = wait_posts(fake_slack, 3, timeout=COALESCE_S + ALERT_DEADLINE_S + 1)[2]
        assert third.received_at - posts[1].received_at >= COALESCE_S - 0.5
        time.sleep(2.5)  # room for a duplicate to show up, from either worker
        texts = [str(p.args.get("text")) for p in channel_posts(fake_slack)]
        assert len(texts) == len(set(texts)), texts  # every alert posted once
        assert sum("deactivated" in t.lower() for t in texts) == 1, texts
    assert confirmation is not None
    for child in fleet.children:
        assert child.popen.poll() is None, child.log_tail()
