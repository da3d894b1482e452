"""Pure: the App Home view and the modals, within Slack's limits whatever the data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rendering.home import (
    MAX_HOME_WATCHES,
    HomeContent,
    RecentLookup,
    render_home,
    render_refused_home,
)
from bot.rendering.ids import ActionId
from bot.rendering.metadata import FormOrigin
from bot.rendering.modals import (
    CHANNEL_BLOCK,
    EMAIL_BLOCK,
    PRODUCT_BLOCK,
    SEARCH_BLOCK,
    THRESHOLD_BLOCK,
    LookupForm,
    WatchForm,
    lookup_modal,
    notice_modal,
    watch_modal,
)
from bot.slack.core.home import channels_used, recent_lookups
from bot.slack.modals.forms import form_origin, read_lookup_form, read_watch_form
from bot.store import AuditEntry, Watch
from tests.support.blockkit import assert_valid_view

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NASTY = "<!channel> *bold* `tick` & <@U1> " + "ü" * 300 + "\u202e" + "x" * 3000


def watch(watch_id: int, **fields: Any) -> Watch:
    values: dict[str, Any] = {
        "id": watch_id,
        "product": "acme-desktop",
        "customer_email": f"c{watch_id}@example.com",
        "channel_id": "C111",
        "threshold_pct": 90,
        "created_by": "U111",
        "created_at": NOW,
        "paused_reason": None,
        "snoozed_until": None,
        "last_checked_at": None,
        "last_outcome": None,
        "last_snapshot": None,
        "snapshot_seq": 0,
        "consecutive_failures": 0,
        "failure_alerted": False,
        "next_check_at": None,
    }
    values.update(fields)
    return Watch(**values)


def lookups(count: int, text: str = "ada@example.com") -> list[RecentLookup]:
    return [
        RecentLookup(f"{text}-{i}", f"{i}{text}", NOW - timedelta(minutes=i), "ok")
        for i in range(count)
    ]


def buttons(view: dict[str, Any]) -> list[str]:
    found = []
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found.append(element["action_id"])
    return found


def test_home_with_lookups_and_watches() -> None:
    watches = [
        watch(1),
        watch(2, paused_reason="not_in_channel"),
        watch(3, snoozed_until=NOW + timedelta(hours=3), last_checked_at=NOW - timedelta(hours=2)),
        watch(4, last_outcome="timeout", last_checked_at=NOW - timedelta(seconds=30)),
    ]
    view = render_home(HomeContent(lookups(3), watches, 4, NOW))
    assert_valid_view(view)
    text = json.dumps(view)
    assert buttons(view).count(ActionId.LOOKUP_AGAIN) == 3
    assert buttons(view).count("alert_snooze") == 4
    assert buttons(view).count("alert_unwatch") == 4
    assert "home_open_lookup" in buttons(view)
    assert "paused (not_in_channel)" in text
    assert "snoozed" in text
    assert "checked 2h ago" in text
    assert "Watches (4)" in text
    assert "more watch" not in text


def test_home_worst_case_stays_within_limits() -> None:
    many = [
        watch(
            i,
            product=NASTY,
            customer_email=NASTY,
            paused_reason=NASTY,
            channel_id="C" + "Z" * 20,
        )
        for i in range(1, MAX_HOME_WATCHES + 1)
    ]
    content = HomeContent(lookups(50, NASTY), many, 5_000, NOW, notice="x" * 10_000)
    view = render_home(content)
    assert_valid_view(view)
    assert len(view["blocks"]) <= 100
    assert len(json.dumps(view).encode()) < 250_000
    text = json.dumps(view)
    assert "4,970 more watches" in text
    assert "<!channel>" not in text
    assert "<@U1>" not in text


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(min_size=1, max_size=400),
    lookup_count=st.integers(0, 30),
    watch_count=st.integers(0, 60),
)
def test_home_is_always_valid(text: str, lookup_count: int, watch_count: int) -> None:
    watches = [watch(i + 1, customer_email=text, product=text) for i in range(watch_count)]
    view = render_home(HomeContent(lookups(lookup_count, text), watches, watch_count, NOW))
    assert_valid_view(view)


def test_home_without_store_and_refused_home() -> None:
    view = render_home(HomeContent((), (), 0, NOW, store_available=False))
    assert_valid_view(view)
    assert "unavailable" in json.dumps(view)
    refused = render_refused_home(":no_entry: You are not allowed. Ask whoever runs this bot.")
    assert_valid_view(refused)
    assert len(refused["blocks"]) == 1


def test_recent_lookups_are_newest_first_one_per_customer() -> None:
    def entry(minutes: int, action: str, email: str, channel: str | None = "C1") -> AuditEntry:
        return AuditEntry(
            NOW - timedelta(minutes=minutes), "U1", channel, action, "p", email, "ok", "r"
        )

    entries = [
        entry(1, "lookup", "a@x.io"),
        entry(2, "lookup", "A@x.io", channel="D1"),  # paging the same customer
        entry(3, "share", "b@x.io", channel="C2"),
        entry(4, "lookup", "c@x.io", channel="G3"),
    ] + [entry(10 + i, "lookup", f"{i}@x.io") for i in range(20)]
    found = recent_lookups(entries)
    assert [r.customer_email for r in found[:2]] == ["a@x.io", "c@x.io"]
    assert len(found) == 10
    assert channels_used(entries) == ["C1", "C2", "G3"]


# --- modals -------------------------------------------------------------------------------

ORIGIN = FormOrigin(user="U111", origin="home")


def submitted(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from bot.demo.slack_requests import input_state

    return {**view, "state": {"values": input_state(view, values)}}


@pytest.mark.parametrize(
    "view",
    [
        lookup_modal(["acme-desktop", "acme-cli"], "acme-cli", ORIGIN),
        lookup_modal([], "acme-desktop", ORIGIN, problem=":x: LicenseSpring has no product."),
        lookup_modal([f"p{i}" for i in range(150)], None, ORIGIN),
        watch_modal(["acme-desktop"], None, ORIGIN, channel="C1", email="a@b.io"),
        watch_modal([], None, ORIGIN, channel="D1"),
        notice_modal("A title far longer than Slack's twenty-four", NASTY[:2000]),
    ],
)
def test_modals_are_valid(view: dict[str, Any]) -> None:
    assert_valid_view(view)


def test_lookup_modal_preselects_default_product() -> None:
    view = lookup_modal(["acme-desktop", "acme-cli"], "acme-cli", ORIGIN)
    product = next(b for b in view["blocks"] if b["block_id"] == PRODUCT_BLOCK)
    assert product["element"]["type"] == "static_select"
    assert product["element"]["initial_option"]["value"] == "acme-cli"
    plain = lookup_modal([], "acme-desktop", ORIGIN)
    product = next(b for b in plain["blocks"] if b["block_id"] == PRODUCT_BLOCK)
    assert product["element"]["type"] == "plain_text_input"
    assert product["element"]["initial_value"] == "acme-desktop"
    assert form_origin(view) == ORIGIN


def test_watch_modal_defaults_to_current_channel() -> None:
    channel = next(
        b
        for b in watch_modal([], None, ORIGIN, channel="C9")["blocks"]
        if b["block_id"] == CHANNEL_BLOCK
    )
    assert channel["element"]["initial_conversation"] == "C9"
    anywhere = next(
        b for b in watch_modal([], None, ORIGIN)["blocks"] if b["block_id"] == CHANNEL_BLOCK
    )
    assert anywhere["element"]["default_to_current_conversation"] is True


def test_reading_the_lookup_form() -> None:
    products = ["acme-desktop", "acme-cli"]
    view = lookup_modal(products, "acme-cli", ORIGIN)
    good = read_lookup_form(
        submitted(view, {EMAIL_BLOCK: " <mailto:Ada@Example.COM|Ada@Example.COM> "}), products
    )
    assert good == LookupForm("acme-cli", "Ada@example.com", None)
    searched = read_lookup_form(
        submitted(view, {EMAIL_BLOCK: "a@b.io", SEARCH_BLOCK: " grace "}), products
    )
    assert isinstance(searched, LookupForm) and searched.search == "grace"
    errors = read_lookup_form(
        submitted(view, {EMAIL_BLOCK: "not-an-email", PRODUCT_BLOCK: "acme-server"}), products
    )
    assert set(errors) == {EMAIL_BLOCK, PRODUCT_BLOCK}
    assert isinstance(errors, dict)
    assert "not an e-mail address" in errors[EMAIL_BLOCK]
    assert "Unknown product" in errors[PRODUCT_BLOCK]
    assert all(len(message) <= 150 for message in errors.values())
    empty = read_lookup_form({"state": {"values": {}}}, [])
    assert set(empty) == {EMAIL_BLOCK, PRODUCT_BLOCK}
    bad_code = read_lookup_form(
        submitted(
            lookup_modal([], None, ORIGIN), {PRODUCT_BLOCK: "no spaces", EMAIL_BLOCK: "a@b.io"}
        ),
        [],
    )
    assert set(bad_code) == {PRODUCT_BLOCK}


def test_reading_the_watch_form() -> None:
    view = watch_modal(["acme-desktop"], "acme-desktop", ORIGIN, channel="C1")
    good = read_watch_form(submitted(view, {EMAIL_BLOCK: "a@b.io"}), ["acme-desktop"])
    assert good == WatchForm("acme-desktop", "a@b.io", "C1", 90)
    errors = read_watch_form(
        submitted(view, {EMAIL_BLOCK: "a@b.io", CHANNEL_BLOCK: "D1", THRESHOLD_BLOCK: "0"}),
        ["acme-desktop"],
    )
    assert set(errors) == {CHANNEL_BLOCK, THRESHOLD_BLOCK}
    missing = read_watch_form(
        submitted(view, {EMAIL_BLOCK: "a@b.io", CHANNEL_BLOCK: None, THRESHOLD_BLOCK: "101"}),
        ["acme-desktop"],
    )
    assert set(missing) == {CHANNEL_BLOCK, THRESHOLD_BLOCK}
