"""Alert messages: content per kind, limits, escaping, buttons, watch notices."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alert_rules import (
    Alert,
    AlertKind,
    Snapshot,
    UserState,
    email_key,
    evaluate,
)
from bot.rendering.alerts import (
    MAX_LISTED_USERS,
    render_alert,
    render_watch_paused,
)
from bot.rendering.blocks import Message, button_value, check_limits, parse_button_value
from bot.rendering.ids import ActionId
from bot.rendering.watches import render_snoozed, render_unwatched

PRODUCT = "engine"
EMAIL = "ada@example.com"
CUSTOMER = "Analytical Engines Ltd"
MISCHIEF = ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|x>", "&")
RAW_MISCHIEF = ("<!channel>", "<!here>", "<@U123>", "<https://evil", "|x>")


def state(
    email: str, *, name: str = "", active: bool = True, used: int = 1, maximum: int | None = 10
) -> UserState:
    return UserState(
        email=email, name=name, active=active, activations=used, max_activations=maximum
    )


def snap(*users: UserState, customer: str = CUSTOMER) -> Snapshot:
    return Snapshot(customer_name=customer, users={email_key(u.email): u for u in users})


PREVIOUS = snap(
    state("a@x.io", name="Ann", used=2, maximum=3),
    state("b@x.io", name="Bob", used=40, maximum=44),
    state("c@x.io", name="Cy", active=False),
)
CURRENT = snap(
    state("a@x.io", name="Ann", used=3, maximum=3),
    state("b@x.io", name="Bob", used=45, maximum=47),
    state("d@x.io", name="Dee", used=0, maximum=None),
)

EXAMPLES = {
    AlertKind.BASELINE: Alert(AlertKind.BASELINE, after=96),
    AlertKind.REACHED_LIMIT: Alert(AlertKind.REACHED_LIMIT, users=("a@x.io",), before=0, after=1),
    AlertKind.THRESHOLD_CROSSED: Alert(AlertKind.THRESHOLD_CROSSED, before=89, after=96),
    AlertKind.THRESHOLD_RECOVERED: Alert(AlertKind.THRESHOLD_RECOVERED, before=96, after=89),
    AlertKind.USERS_ADDED: Alert(AlertKind.USERS_ADDED, users=("d@x.io",), before=3, after=3),
    AlertKind.USERS_REMOVED: Alert(AlertKind.USERS_REMOVED, users=("c@x.io",), before=3, after=3),
    AlertKind.USERS_DEACTIVATED: Alert(
        AlertKind.USERS_DEACTIVATED, users=("b@x.io",), before=2, after=1
    ),
    AlertKind.USERS_REACTIVATED: Alert(
        AlertKind.USERS_REACTIVATED, users=("c@x.io",), before=2, after=3
    ),
    AlertKind.LOOKUP_FAILING: Alert(AlertKind.LOOKUP_FAILING, before=2, after=3, detail="timeout"),
    AlertKind.LOOKUP_RECOVERED: Alert(AlertKind.LOOKUP_RECOVERED, before=4, after=0),
}


def render(
    alert: Alert,
    *,
    previous: Snapshot | None = PREVIOUS,
    current: Snapshot | None = CURRENT,
    product: str = PRODUCT,
    customer_email: str = EMAIL,
    threshold_pct: int = 90,
    watch_id: int = 7,
) -> Message:
    return render_alert(
        alert,
        watch_id=watch_id,
        product=product,
        customer_email=customer_email,
        previous=previous,
        current=current,
        threshold_pct=threshold_pct,
    )


def header(message: Message) -> str:
    assert message.blocks[0]["type"] == "header"
    return str(message.blocks[0]["text"]["text"])


def all_text(message: Message) -> str:
    return message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False)


def section_texts(message: Message) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section" and "text" in b]


def field_texts(message: Message) -> list[str]:
    return [
        f["text"] for b in message.blocks if b["type"] == "section" for f in b.get("fields", [])
    ]


def buttons(message: Message) -> dict[str, dict[str, Any]]:
    (actions,) = [b for b in message.blocks if b["type"] == "actions"]
    return {element["action_id"]: element for element in actions["elements"]}


def assert_no_raw_mischief(message: Message) -> None:
    text = all_text(message)
    for raw in RAW_MISCHIEF:
        assert raw not in text


# ---------------------------------------------------------------------------------------------
# Each kind


@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_kind_renders_within_limits(kind: AlertKind) -> None:
    message = render(EXAMPLES[kind])
    assert check_limits(message) == []
    assert CUSTOMER in header(message)
    assert "\n" not in message.text
    assert EMAIL in message.text


@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_kind_renders_without_snapshots(kind: AlertKind) -> None:
    message = render(EXAMPLES[kind], previous=None, current=None)
    assert check_limits(message) == []
    assert EMAIL in header(message) or kind in {
        AlertKind.THRESHOLD_CROSSED,
        AlertKind.THRESHOLD_RECOVERED,
    }


def test_reached_limit_names_users_and_figures() -> None:
    message = render(EXAMPLES[AlertKind.REACHED_LIMIT])
    assert header(message) == f":no_entry: 1 user reached their activation limit — {CUSTOMER}"
    assert section_texts(message)[0] == "• a@x.io · Ann · at activation limit · activations 3/3"
    assert "*At limit*\n0 → 1" in field_texts(message)
    # The headline counts every license user; the active users' share follows, labelled.
    assert "*Activations*\n43/57 (75%) → 48/50 (96%)\nactive users: 42/47 → 48/50" in (
        field_texts(message)
    )
    assert message.text.startswith("1 user reached their activation limit — ")
    assert "a@x.io" in message.text
    assert "at limit 0 → 1" in message.text


def test_threshold_crossed_and_recovered_say_the_percentages() -> None:
    crossed = render(EXAMPLES[AlertKind.THRESHOLD_CROSSED])
    assert header(crossed) == f":warning: Activations at 96% (≥ 90%) — {CUSTOMER}"
    assert "from 89% to *96%*" in section_texts(crossed)[0]
    assert "activations 89% → 96%" in crossed.text
    recovered = render(EXAMPLES[AlertKind.THRESHOLD_RECOVERED])
    assert header(recovered) == f":white_check_mark: Activations back below 90% — {CUSTOMER}"
    assert "below the alert threshold of 90% again" in section_texts(recovered)[0]


def test_users_added_and_removed_take_users_from_the_right_snapshot() -> None:
    added = render(EXAMPLES[AlertKind.USERS_ADDED])
    assert header(added) == f":heavy_plus_sign: 1 user added — {CUSTOMER}"
    assert section_texts(added)[0].startswith("• d@x.io · Dee · active · activations 0/—")
    removed = render(EXAMPLES[AlertKind.USERS_REMOVED])
    assert header(removed) == f":heavy_minus_sign: 1 user removed — {CUSTOMER}"
    assert section_texts(removed)[0] == "• c@x.io · Cy · inactive · activations 1/10"
    assert "*Users*\n3" in field_texts(removed)


def test_deactivated_and_reactivated_headers() -> None:
    assert header(render(EXAMPLES[AlertKind.USERS_DEACTIVATED])).startswith(
        ":white_circle: 1 user deactivated — "
    )
    assert header(render(EXAMPLES[AlertKind.USERS_REACTIVATED])).startswith(
        ":large_green_circle: 1 user reactivated — "
    )


def test_baseline_shows_current_figures_without_arrows() -> None:
    message = render(EXAMPLES[AlertKind.BASELINE], previous=None)
    assert header(message) == f":eyes: Now watching {CUSTOMER} in {PRODUCT}"
    assert field_texts(message) == [
        "*Users*\n3",
        "*Active*\n3",
        "*Activations*\n48/50 (96%)",
        "*At limit*\n1",
    ]
    assert set(buttons(message)) == {ActionId.SHOW_USERS, ActionId.SNOOZE, ActionId.UNWATCH}


def test_lookup_failing_names_the_code_and_the_backoff() -> None:
    message = render(EXAMPLES[AlertKind.LOOKUP_FAILING], current=PREVIOUS)
    assert header(message) == f":x: Lookups for {CUSTOMER} keep failing"
    body = section_texts(message)[0]
    assert "The last 3 lookups failed with `timeout`." in body
    assert "backoff" in body
    assert not any("→" in field for field in field_texts(message))
    assert "failed lookups in a row 3" in message.text


def test_lookup_failing_with_an_unknown_code_escapes_it() -> None:
    alert = Alert(AlertKind.LOOKUP_FAILING, after=3, detail="<!channel>`x")
    message = render(alert)
    assert "`&lt;!channel&gt;'x`" in section_texts(message)[0]
    assert_no_raw_mischief(message)


def test_lookup_recovered() -> None:
    message = render(EXAMPLES[AlertKind.LOOKUP_RECOVERED])
    assert header(message) == f":white_check_mark: Lookups for {CUSTOMER} work again"
    assert section_texts(message)[0] == "The lookup succeeded after 4 failed lookups."


def test_context_names_email_product_and_threshold() -> None:
    message = render(EXAMPLES[AlertKind.USERS_ADDED], threshold_pct=75)
    context = message.blocks[1]
    assert context["type"] == "context"
    assert (
        context["elements"][0]["text"] == f"{EMAIL} · Product: *{PRODUCT}* · Alert threshold: 75%"
    )


# ---------------------------------------------------------------------------------------------
# Buttons


def test_buttons_and_their_values() -> None:
    found = buttons(render(EXAMPLES[AlertKind.REACHED_LIMIT], watch_id=42))
    assert list(found) == [ActionId.SHOW_USERS, ActionId.SNOOZE, ActionId.UNWATCH]
    assert found[ActionId.SHOW_USERS]["value"] == button_value(PRODUCT, EMAIL, 0)
    assert parse_button_value(found[ActionId.SHOW_USERS]["value"]) == (PRODUCT, EMAIL, 0)
    assert found[ActionId.SHOW_USERS]["text"]["text"] == "Show users"
    assert found[ActionId.SNOOZE] == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Snooze 24h", "emoji": True},
        "action_id": "alert_snooze",
        "value": "42",
    }
    unwatch = found[ActionId.UNWATCH]
    assert (unwatch["value"], unwatch["style"]) == ("42", "danger")
    confirm = unwatch["confirm"]
    assert set(confirm) >= {"title", "text", "confirm", "deny"}
    assert EMAIL in confirm["text"]["text"]
    assert len(confirm["title"]["text"]) <= 100
    assert len(confirm["text"]["text"]) <= 300
    assert len(confirm["confirm"]["text"]) <= 30
    assert len(confirm["deny"]["text"]) <= 30


def test_show_users_is_left_out_when_its_value_would_be_too_long() -> None:
    message = render(EXAMPLES[AlertKind.USERS_ADDED], customer_email="a" * 3000 + "@x.io")
    assert list(buttons(message)) == [ActionId.SNOOZE, ActionId.UNWATCH]
    assert check_limits(message) == []


# ---------------------------------------------------------------------------------------------
# Escaping and size


@pytest.mark.parametrize("mischief", MISCHIEF)
@pytest.mark.parametrize("kind", list(AlertKind))
def test_outside_text_is_escaped_everywhere(kind: AlertKind, mischief: str) -> None:
    email = f"{mischief}@x.io"
    users = (
        state(email, name=f"Eve {mischief}", used=3, maximum=3),
        state(f"z{mischief}@x.io", name=mischief, active=False),
    )
    current = snap(*users, customer=f"{mischief} Ltd")
    alert = EXAMPLES[kind]
    if alert.users:
        alert = Alert(kind, users=tuple(u.email for u in users), before=1, after=2)
    message = render(
        alert,
        previous=current,
        current=current,
        product=f"prod{mischief}",
        customer_email=f"ada{mischief}@example.com",
    )
    assert check_limits(message) == []
    assert_no_raw_mischief(message)
    if mischief == "&":
        assert "& " not in all_text(message).replace("&amp;", "")
        assert "&amp; Ltd" in header(message)


def test_500_added_users_list_ten_then_count_the_rest() -> None:
    emails = [f"user{i:03d}@x.io" for i in range(500)]
    current = snap(*(state(e, name="N" * 200) for e in emails))
    (alert,) = evaluate(snap(), current, 1000)
    assert alert.kind is AlertKind.USERS_ADDED
    message = render(alert, previous=snap(), current=current)
    lines = section_texts(message)[0].split("\n")
    assert len(lines) == MAX_LISTED_USERS + 1
    assert lines[-1] == "…and 490 more"
    assert lines[0].startswith("• user000@x.io · NNN")
    assert header(message) == f":heavy_plus_sign: 500 users added — {CUSTOMER}"
    assert "*Users*\n0 → 500" in field_texts(message)
    assert "and 497 more" in message.text
    assert check_limits(message) == []


def test_long_everything_stays_within_limits() -> None:
    long = "Ω" * 5000 + '"\\' * 500 + "\U0001d54f" * 500
    users = tuple(state(f"{i}{long}", name=long, used=10**15, maximum=10**15) for i in range(30))
    current = snap(*users, customer=long)
    for kind in AlertKind:
        alert = Alert(
            kind, users=tuple(u.email for u in users), before=10**15, after=10**15, detail=long
        )
        message = render(
            alert,
            previous=current,
            current=current,
            product=long,
            customer_email=long,
            threshold_pct=10**15,
            watch_id=10**30,
        )
        assert check_limits(message) == [], kind
        assert len(header(message)) <= 150


mischievous_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(["<", ">", "&", "|", "@", "!", "`"]),
    max_size=80,
) | st.sampled_from(MISCHIEF)


@st.composite
def alert_inputs(draw: st.DrawFn) -> tuple[Alert, Snapshot, Snapshot, str, str]:
    states = draw(
        st.lists(
            st.builds(
                UserState,
                email=mischievous_text,
                name=mischievous_text,
                active=st.booleans(),
                activations=st.integers(-10, 10**12),
                max_activations=st.none() | st.integers(-10, 10**12),
            ),
            max_size=15,
        )
    )
    current = snap(*states, customer=draw(mischievous_text))
    kind = draw(st.sampled_from(AlertKind))
    alert = Alert(
        kind,
        users=tuple(s.email for s in states),
        before=draw(st.none() | st.integers(-(10**6), 10**15)),
        after=draw(st.none() | st.integers(-(10**6), 10**15)),
        detail=draw(st.none() | mischievous_text),
    )
    return alert, snap(*states[:3]), current, draw(mischievous_text), draw(mischievous_text)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(alert_inputs(), st.integers(-100, 10**6))
def test_any_text_renders_within_limits_and_escaped(
    inputs: tuple[Alert, Snapshot, Snapshot, str, str], threshold: int
) -> None:
    alert, previous, current, product, customer_email = inputs
    message = render(
        alert,
        previous=previous,
        current=current,
        product=product,
        customer_email=customer_email,
        threshold_pct=threshold,
    )
    assert check_limits(message) == []
    assert_no_raw_mischief(message)


# ---------------------------------------------------------------------------------------------
# Watch notices


def test_watch_paused_tells_the_creator_what_to_do() -> None:
    message = render_watch_paused(
        "not_in_channel", product=PRODUCT, customer_email=EMAIL, channel_id="C0123ABCD"
    )
    assert check_limits(message) == []
    text = section_texts(message)[0]
    assert f"I stopped posting alerts for {EMAIL} in <#C0123ABCD>" in text
    assert "not a member" in text
    assert "`/invite @License Users`" in text
    assert f"`/license-users watch {PRODUCT} {EMAIL}` again" in text


def test_watch_paused_for_an_archived_channel_suggests_another_channel() -> None:
    message = render_watch_paused(
        "is_archived", product=PRODUCT, customer_email=EMAIL, channel_id="C0123ABCD"
    )
    assert "archived" in message.text
    assert "another channel" in message.text


@pytest.mark.parametrize("mischief", MISCHIEF)
def test_watch_paused_escapes_everything(mischief: str) -> None:
    message = render_watch_paused(
        f"odd{mischief}",
        product=f"p{mischief}",
        customer_email=f"a{mischief}@x.io",
        channel_id=mischief,
    )
    assert check_limits(message) == []
    assert_no_raw_mischief(message)


def test_snoozed_and_unwatched_confirmations() -> None:
    snoozed = render_snoozed("Tue 10:00 <!here>")
    assert snoozed.text == ":zzz: Alerts snoozed until Tue 10:00 &lt;!here&gt;."
    dated = render_snoozed("Tue 10:00", until_ts=1_700_000_000)
    assert "<!date^1700000000^{date_short_pretty} at {time}|Tue 10:00>" in dated.text
    unwatched = render_unwatched(product=f"p{MISCHIEF[0]}", customer_email=EMAIL)
    assert EMAIL in unwatched.text
    assert_no_raw_mischief(unwatched)
    for message in (snoozed, dated, unwatched):
        assert check_limits(message) == []
        assert len(message.blocks) == 1
