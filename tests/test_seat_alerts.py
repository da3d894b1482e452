"""Seat alerts: a license becomes full, a full one has room again (pure rules, rendering, and
the poller over the sandbox's Management API)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.alert_rules import (
    AlertKind,
    Snapshot,
    carry_unread_seats,
    evaluate,
)
from bot.alerts.poller import Poller, PollerOptions
from bot.demo.fake_slack import FakeSlack
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.management import ManagementApiClient
from bot.rendering.alerts import render_alert
from bot.rendering.blocks import check_limits
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.seats import SEATS_UNREADABLE, LicenseSeats, Seats, SeatsState
from bot.slack.app import build_web_client
from bot.store import Store
from tests.conftest import SettingsFactory
from tests.support.blockkit import assert_valid_blocks

PRODUCT = "acme-desktop"


def snapshot(seats: dict[str, tuple[int, int]] | None) -> Snapshot:
    return Snapshot(customer_name="Acme Ltd", users={}, seat_licenses=seats)


def kinds(previous: Snapshot, current: Snapshot) -> list[AlertKind]:
    return [alert.kind for alert in evaluate(previous, current, 90)]


def test_a_license_becoming_full_alerts_once_and_room_again_alerts_once() -> None:
    room = snapshot({"1": (4, 5), "2": (1, 10)})
    full = snapshot({"1": (5, 5), "2": (1, 10)})
    assert kinds(room, full) == [AlertKind.LICENSE_FULL]
    assert evaluate(room, full, 90)[0].users == ("1",)
    assert kinds(full, full) == []
    assert kinds(full, room) == [AlertKind.LICENSE_ROOM]
    assert kinds(room, room) == []


def test_unknown_seats_on_either_side_never_alert() -> None:
    full = snapshot({"1": (5, 5)})
    unknown = snapshot(None)
    assert kinds(unknown, full) == []
    assert kinds(full, unknown) == []


def test_a_removed_full_license_is_not_room_again() -> None:
    assert kinds(snapshot({"1": (5, 5)}), snapshot({})) == []


def test_snapshots_keep_seats_and_old_snapshots_still_parse() -> None:
    stored = snapshot({"1": (5, 5)}).to_json()
    assert Snapshot.from_json(json.dumps(stored)) == snapshot({"1": (5, 5)})
    old = {"v": 1, "customer": "Acme Ltd", "users": {}, "activations": [1, 2]}
    parsed = Snapshot.from_json(old)
    assert parsed is not None and parsed.seat_licenses is None
    assert Snapshot.from_json({**old, "seats": {"1": ["x", 2]}}) is None


def test_seats_that_could_not_be_read_keep_the_last_known_ones() -> None:
    previous = snapshot({"1": (5, 5)})
    unread = carry_unread_seats(snapshot(None), previous, SEATS_UNREADABLE)
    assert unread.seat_licenses == previous.seat_licenses
    counted = Seats(SeatsState.COUNTED, (LicenseSeats(1, 4, 5, frozenset()),))
    assert carry_unread_seats(snapshot(None), previous, counted).seat_licenses is None


@pytest.mark.parametrize("kind", [AlertKind.LICENSE_FULL, AlertKind.LICENSE_ROOM])
def test_seat_alerts_render_within_slacks_limits(kind: AlertKind) -> None:
    previous = snapshot({"1": (4, 5)} if kind is AlertKind.LICENSE_FULL else {"1": (5, 5)})
    current = snapshot({"1": (5, 5)} if kind is AlertKind.LICENSE_FULL else {"1": (4, 5)})
    (alert,) = evaluate(previous, current, 90)
    message = render_alert(
        alert,
        watch_id=1,
        product=PRODUCT,
        customer_email=seed.ACME,
        previous=previous,
        current=current,
        threshold_pct=90,
    )
    assert_valid_blocks(message.blocks)
    assert check_limits(message) == []
    text = json.dumps(message.blocks)
    assert "License `1`" in text
    expected = "out of seats" if kind is AlertKind.LICENSE_FULL else "free seats again"
    assert expected in message.text


# --- the poller ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def poller(
    make_settings: SettingsFactory, fake_slack: FakeSlack, sandbox_url: str, tmp_path: Any
) -> AsyncIterator[Poller]:
    settings = make_settings(
        slack_bot_token=fake_slack.bot_token,
        slack_api_url=fake_slack.api_url,
        licensespring_management_api_url=sandbox_url,
        licensespring_management_api_key=seed.SANDBOX_MANAGEMENT_API_KEY,
        licensespring_cache_ttl=0,
    )
    store = await Store.open(f"sqlite:///{tmp_path / 'seats.db'}")
    client = LicenseApiClient.from_settings(settings)
    management = ManagementApiClient.from_settings(settings)
    yield Poller(
        store,
        client,
        build_web_client(settings),
        PollerOptions(interval_s=900, channel_spacing_s=0.0),
        clock=Clock(),
        management=management,
    )
    await client.aclose()
    await management.aclose()
    await store.close()


def posts(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        c.args
        for c in slack.calls("chat.postMessage")
        if c.args.get("channel") == "CSEATS" and c.response.get("ok")
    ]


async def test_the_poller_alerts_when_a_license_fills_up_and_when_it_has_room(
    poller: Poller, sandbox: SandboxState, fake_slack: FakeSlack
) -> None:
    email = f"seats-{uuid.uuid4().hex[:8]}@example.com"
    customer = seed.customer_record(email, "Sam", "Seats", "Seats Ltd")
    users = [seed.license_user(f"u{i}@seats.example", "U", str(i)) for i in range(3)]
    sandbox.set_users(PRODUCT, email, users, customer=customer)
    sandbox.management.add_license(
        PRODUCT, customer, ["u0@seats.example", "u1@seats.example"], max_license_users=3
    )
    clock = poller._clock
    assert isinstance(clock, Clock)
    await poller.store.watches.add(
        product=PRODUCT,
        customer_email=email,
        channel_id="CSEATS",
        threshold_pct=90,
        created_by="U1",
        now=clock.now,
    )
    await poller.run_cycle()
    assert len(posts(fake_slack)) == 1  # the baseline

    sandbox.management.reset()  # drops the license; a full one takes its place
    sandbox.management.add_license(
        PRODUCT, customer, [f"u{i}@seats.example" for i in range(3)], max_license_users=3
    )
    clock.now += timedelta(seconds=1_200)
    await poller.run_cycle()
    full = posts(fake_slack)[1:]
    assert len(full) == 1 and "out of seats" in full[0]["text"]

    clock.now += timedelta(seconds=1_200)
    await poller.run_cycle()
    assert len(posts(fake_slack)) == 2  # still full: no second alert

    sandbox.management.set_fault(status=500)  # seats unread: nothing, and nothing forgotten
    clock.now += timedelta(seconds=1_200)
    await poller.run_cycle()
    assert len(posts(fake_slack)) == 2
    sandbox.management.clear_fault()

    sandbox.management.reset()
    sandbox.management.add_license(
        PRODUCT, customer, [f"u{i}@seats.example" for i in range(3)], max_license_users=5
    )
    clock.now += timedelta(seconds=1_200)
    await poller.run_cycle()
    room = posts(fake_slack)[2:]
    assert len(room) == 1 and "free seats again" in room[0]["text"]
