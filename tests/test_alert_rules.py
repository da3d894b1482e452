"""Alert rules: snapshots, the alerts for each kind of change, lookup failures, keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alert_rules import (
    Alert,
    AlertKind,
    FailureState,
    Snapshot,
    UserState,
    alert_key,
    email_key,
    evaluate,
    evaluate_failure,
    snapshot_of,
)
from bot.licensespring.models import Customer, CustomerLicenseUsers, LicenseUser
from bot.summary import summarise

THRESHOLD = 90


def state(
    email: str,
    *,
    active: bool = True,
    used: int = 1,
    maximum: int | None = 10,
    name: str = "",
) -> UserState:
    return UserState(
        email=email, name=name, active=active, activations=used, max_activations=maximum
    )


def snap(*users: UserState, customer: str = "Analytical Engines Ltd") -> Snapshot:
    return Snapshot(customer_name=customer, users={email_key(u.email): u for u in users})


def kinds(alerts: list[Alert]) -> list[AlertKind]:
    return [alert.kind for alert in alerts]


def only(alerts: list[Alert], kind: AlertKind) -> Alert:
    matching = [alert for alert in alerts if alert.kind is kind]
    assert len(matching) == 1, alerts
    return matching[0]


def utilisation(used: int, maximum: int = 100) -> Snapshot:
    """One active user with `used` of `maximum` activations (never at limit below 100%)."""
    return snap(state("a@x.io", used=used, maximum=maximum))


# ---------------------------------------------------------------------------------------------
# UserState and Snapshot


def test_at_limit_needs_an_active_user_with_a_known_positive_maximum() -> None:
    assert state("a@x.io", used=3, maximum=3).at_limit
    assert state("a@x.io", used=4, maximum=3).at_limit
    assert not state("a@x.io", used=2, maximum=3).at_limit
    assert not state("a@x.io", used=3, maximum=3, active=False).at_limit
    assert not state("a@x.io", used=3, maximum=None).at_limit
    assert not state("a@x.io", used=3, maximum=0).at_limit


def test_snapshot_totals_count_every_user_and_known_maxima_with_the_active_share() -> None:
    snapshot = snap(
        state("a@x.io", used=45, maximum=50),
        state("b@x.io", used=5, maximum=None),
        state("c@x.io", used=7, maximum=7, active=False),
        state("d@x.io", used=0, maximum=0),
    )
    assert snapshot.activations_used == 57
    assert snapshot.activations_max == 57
    assert snapshot.utilisation_pct == 100
    assert (snapshot.active_activations_used, snapshot.active_activations_max) == (50, 50)
    assert (snapshot.total_count, snapshot.active_count, snapshot.at_limit_count) == (4, 3, 0)


def test_utilisation_is_floored_and_none_without_a_known_maximum() -> None:
    assert utilisation(899, 1000).utilisation_pct == 89
    assert utilisation(900, 1000).utilisation_pct == 90
    assert snap(state("a@x.io", used=5, maximum=None)).utilisation_pct is None
    assert snap().utilisation_pct is None


def test_snapshot_users_cannot_be_changed_through_the_snapshot_or_the_given_dict() -> None:
    users = {"a@x.io": state("a@x.io")}
    snapshot = Snapshot(customer_name="X", users=users)
    users["b@x.io"] = state("b@x.io")
    assert list(snapshot.users) == ["a@x.io"]
    with pytest.raises(TypeError):
        snapshot.users["c@x.io"] = state("c@x.io")  # type: ignore[index]


def summary_of(*users: LicenseUser, customer: Customer | None = None) -> Any:
    answer = CustomerLicenseUsers(customer=customer or Customer(email="ada@x.io"), users=users)
    return summarise("engine", answer)


def test_snapshot_of_a_summary_keys_by_lowercase_email_and_keeps_its_totals() -> None:
    summary = summary_of(
        LicenseUser(
            email="Ada@X.io",
            first_name="Ada",
            is_active=True,
            total_activations=3,
            max_activations=3,
        ),
        LicenseUser(email="bob@x.io", is_active=False, total_activations=None, max_activations=2),
        customer=Customer(email="ada@x.io", first_name="Ada", company_name="Analytical Engines"),
    )
    snapshot = snapshot_of(summary)
    assert set(snapshot.users) == {"ada@x.io", "bob@x.io"}
    assert snapshot.users["ada@x.io"] == UserState("Ada@X.io", "Ada", True, 3, 3)
    assert snapshot.users["bob@x.io"].activations == 0
    assert snapshot.customer_name == "Ada · Analytical Engines"
    assert snapshot.activations_used == summary.activations_used
    assert snapshot.activations_max == summary.activations_max


def test_snapshot_customer_name_falls_back_to_company_then_email() -> None:
    company = Customer(email="c@x.io", company_name="Analytical Engines Ltd")
    assert snapshot_of(summary_of(customer=company)).customer_name == "Analytical Engines Ltd"
    assert snapshot_of(summary_of(customer=Customer(email="c@x.io"))).customer_name == "c@x.io"


def test_a_user_listed_once_per_license_becomes_one_state_with_the_summary_totals() -> None:
    summary = summary_of(
        LicenseUser(email="a@x.io", is_active=True, total_activations=3, max_activations=3),
        LicenseUser(email="A@x.io", is_active=True, total_activations=1, max_activations=5),
        LicenseUser(email="a@x.io", is_active=False, total_activations=9, max_activations=9),
    )
    snapshot = snapshot_of(summary)
    assert list(snapshot.users) == ["a@x.io"]
    merged = snapshot.users["a@x.io"]
    assert (merged.active, merged.activations, merged.max_activations) == (True, 4, 8)
    # The headline counts every entry, the inactive one too; the active share the active ones.
    assert snapshot.activations_used == summary.activations_used == 13
    assert snapshot.activations_max == summary.activations_max == 17
    assert snapshot.active_activations_used == summary.active_activations.used == 4
    assert snapshot.active_activations_max == summary.active_activations.maximum == 8


def test_to_json_round_trips_through_json_text() -> None:
    snapshot = snap(
        state("Ada@x.io", name="Ada <@U1>", used=3, maximum=3),
        state("b@x.io", active=False, used=0, maximum=None),
        customer="Analytical & Co",
    )
    text = json.dumps(snapshot.to_json())
    assert Snapshot.from_json(json.loads(text)) == snapshot
    assert Snapshot.from_json(text) == snapshot


def test_to_json_never_holds_a_password() -> None:
    raw = {
        "customer": {"email": "ada@x.io"},
        "users": [
            {
                "email": "a@x.io",
                "is_active": True,
                "is_initial_password": True,
                "initial_password": "t218_uv@",
            }
        ],
    }
    answer = CustomerLicenseUsers.model_validate(raw)
    text = json.dumps(snapshot_of(summarise("engine", answer)).to_json())
    assert "t218_uv@" not in text
    assert "password" not in text


@pytest.mark.parametrize(
    "data",
    [
        None,
        42,
        "not json",
        b"\xff",
        "[" * 100_000,
        [],
        {},
        {"v": 2, "customer": "X", "users": {}},
        {"v": True, "customer": "X", "users": {}},
        {"v": 1.0, "customer": "X", "users": {}},
        {"v": 1, "customer": None, "users": {}},
        {"v": 1, "customer": "X", "users": []},
        {"v": 1, "customer": "X", "users": {"a": ["a", "", True, 1]}},
        {"v": 1, "customer": "X", "users": {"a": ["a", "", "yes", 1, 2]}},
        {"v": 1, "customer": "X", "users": {"a": ["a", "", True, True, 2]}},
        {"v": 1, "customer": "X", "users": {"a": ["a", "", True, 1.5, 2]}},
        {"v": 1, "customer": "X", "users": {"a": ["a", "", True, 1, "2"]}},
        {"v": 1, "customer": "X", "users": {"a": [None, "", True, 1, 2]}},
        {"v": 1, "customer": "X", "users": {"a": {"email": "a"}}},
    ],
)
def test_from_json_of_anything_malformed_is_none(data: Any) -> None:
    assert Snapshot.from_json(data) is None


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_from_json_never_raises(data: Any) -> None:
    result = Snapshot.from_json(data)
    assert result is None or isinstance(result, Snapshot)


# ---------------------------------------------------------------------------------------------
# evaluate: examples


def test_first_poll_is_only_a_baseline_with_the_current_utilisation() -> None:
    current = snap(state("a@x.io", used=10, maximum=10), state("b@x.io", active=False))
    # Every license user counts: 11 of 20, the inactive user's activation and maximum included.
    assert evaluate(None, current, THRESHOLD) == [Alert(AlertKind.BASELINE, after=55)]
    assert evaluate(None, snap(), THRESHOLD) == [Alert(AlertKind.BASELINE, after=None)]


def test_nothing_changed_is_no_alert() -> None:
    snapshot = snap(state("a@x.io", used=10, maximum=10))
    assert evaluate(snapshot, snapshot, THRESHOLD) == []


def test_activations_moving_below_the_threshold_are_not_an_alert() -> None:
    assert evaluate(utilisation(10), utilisation(80), THRESHOLD) == []
    assert evaluate(utilisation(95), utilisation(92), THRESHOLD) == []
    assert evaluate(utilisation(90), utilisation(95), THRESHOLD) == []
    assert evaluate(utilisation(80), utilisation(89), THRESHOLD) == []


def test_names_and_email_case_changing_are_not_an_alert() -> None:
    before = snap(state("ada@x.io", name="Ada"), customer="Old name")
    after = snap(state("ADA@x.io", name="Ada Lovelace"), customer="New name")
    assert evaluate(before, after, THRESHOLD) == []


def test_users_reaching_the_limit() -> None:
    before = snap(state("b@x.io", used=2, maximum=3), state("c@x.io", used=3, maximum=3))
    after = snap(
        state("B@x.io", used=3, maximum=3),
        state("c@x.io", used=3, maximum=3),  # already at limit: not named again
        state("a@x.io", used=5, maximum=5),  # new and at limit
        state("d@x.io", used=9, maximum=3, active=False),  # inactive: not at limit
    )
    alert = only(evaluate(before, after, 1000), AlertKind.REACHED_LIMIT)
    assert alert == Alert(AlertKind.REACHED_LIMIT, users=("a@x.io", "B@x.io"), before=1, after=3)


def test_a_reactivated_user_at_their_maximum_reaches_the_limit() -> None:
    before = snap(state("a@x.io", used=3, maximum=3, active=False))
    after = snap(state("a@x.io", used=3, maximum=3))
    alerts = evaluate(before, after, 1000)
    assert kinds(alerts) == [AlertKind.REACHED_LIMIT, AlertKind.USERS_REACTIVATED]


def test_an_inactive_user_at_their_maximum_is_not_at_limit() -> None:
    before = snap(state("a@x.io", used=1, maximum=3, active=False))
    after = snap(state("a@x.io", used=3, maximum=3, active=False))
    assert evaluate(before, after, 1000) == []


def test_threshold_crossed_exactly_at_the_boundary() -> None:
    alerts = evaluate(utilisation(89), utilisation(90), THRESHOLD)
    assert alerts == [Alert(AlertKind.THRESHOLD_CROSSED, before=89, after=90)]


def test_threshold_recovered_just_below_the_boundary() -> None:
    alerts = evaluate(utilisation(90), utilisation(89), THRESHOLD)
    assert alerts == [Alert(AlertKind.THRESHOLD_RECOVERED, before=90, after=89)]


def test_floored_utilisation_just_below_the_threshold_does_not_cross() -> None:
    assert evaluate(utilisation(880, 1000), utilisation(899, 1000), THRESHOLD) == []


def test_unknown_utilisation_never_crosses_or_recovers() -> None:
    unknown = snap(state("a@x.io", used=95, maximum=None))
    assert evaluate(unknown, utilisation(95), THRESHOLD) == []
    assert evaluate(utilisation(95), unknown, THRESHOLD) == []


def test_users_added_and_removed() -> None:
    before = snap(state("a@x.io"), state("b@x.io"), state("C@x.io", name="Cee"))
    after = snap(state("a@x.io"), state("d@x.io"), state("E@x.io"), state("b@x.io"))
    alerts = evaluate(before, after, THRESHOLD)
    assert alerts == [
        Alert(AlertKind.USERS_ADDED, users=("d@x.io", "E@x.io"), before=3, after=4),
        Alert(AlertKind.USERS_REMOVED, users=("C@x.io",), before=3, after=4),
    ]


def test_users_deactivated_and_reactivated() -> None:
    before = snap(state("a@x.io"), state("b@x.io", active=False), state("c@x.io"))
    after = snap(state("a@x.io", active=False), state("b@x.io"), state("c@x.io", active=False))
    alerts = evaluate(before, after, THRESHOLD)
    assert alerts == [
        Alert(AlertKind.USERS_DEACTIVATED, users=("a@x.io", "c@x.io"), before=2, after=1),
        Alert(AlertKind.USERS_REACTIVATED, users=("b@x.io",), before=2, after=1),
    ]


def test_alerts_come_in_the_documented_order() -> None:
    before = snap(
        state("gone@x.io"),
        state("off@x.io", used=0),
        state("on@x.io", active=False),
        state("full@x.io", used=80, maximum=100),
    )
    after = snap(
        state("new@x.io", used=0, maximum=None),
        state("off@x.io", active=False),
        state("on@x.io", used=0, maximum=None),
        state("full@x.io", used=100, maximum=100),
    )
    assert kinds(evaluate(before, after, THRESHOLD)) == [
        AlertKind.REACHED_LIMIT,
        AlertKind.THRESHOLD_CROSSED,
        AlertKind.USERS_ADDED,
        AlertKind.USERS_REMOVED,
        AlertKind.USERS_DEACTIVATED,
        AlertKind.USERS_REACTIVATED,
    ]


def test_users_are_sorted_case_insensitively() -> None:
    after = snap(state("b@x.io"), state("C@x.io"), state("a@x.io"), state("Bo@x.io"))
    alert = only(evaluate(snap(), after, THRESHOLD), AlertKind.USERS_ADDED)
    assert alert.users == ("a@x.io", "b@x.io", "Bo@x.io", "C@x.io")


# ---------------------------------------------------------------------------------------------
# Lookup failures


def run_failures(codes: list[str | None], alert_after: int = 3) -> list[list[Alert]]:
    failure, out = FailureState(), []
    for code in codes:
        failure, alerts = evaluate_failure(failure, code, alert_after=alert_after)
        out.append(alerts)
    return out


def test_three_failures_alert_once_then_recover_once() -> None:
    results = run_failures(["timeout", "timeout", "internal_error", "timeout", None, None])
    assert results == [
        [],
        [],
        [Alert(AlertKind.LOOKUP_FAILING, before=2, after=3, detail="internal_error")],
        [],
        [Alert(AlertKind.LOOKUP_RECOVERED, before=4, after=0)],
        [],
    ]


def test_failures_below_the_threshold_reset_silently() -> None:
    assert run_failures(["timeout", "timeout", None, "timeout", "timeout"]) == [[]] * 5


def test_failure_state_counts_and_resets() -> None:
    failure, _ = evaluate_failure(FailureState(), "timeout")
    assert failure == FailureState(consecutive_failures=1, alerted=False)
    failure, _ = evaluate_failure(FailureState(2), "timeout")
    assert failure == FailureState(consecutive_failures=3, alerted=True)
    assert evaluate_failure(FailureState(7, alerted=True), None)[0] == FailureState()


def test_alert_after_one_alerts_on_the_first_failure() -> None:
    assert kinds(run_failures(["timeout"], alert_after=1)[0]) == [AlertKind.LOOKUP_FAILING]
    with pytest.raises(ValueError, match="alert_after"):
        evaluate_failure(FailureState(), "timeout", alert_after=0)


@given(st.lists(st.none() | st.sampled_from(["timeout", "rate_limited"]), max_size=40))
def test_failing_and_recovered_alternate(codes: list[str | None]) -> None:
    posted = [alert.kind for alerts in run_failures(codes) for alert in alerts]
    assert posted[::2] == [AlertKind.LOOKUP_FAILING] * len(posted[::2])
    assert posted[1::2] == [AlertKind.LOOKUP_RECOVERED] * len(posted[1::2])


# ---------------------------------------------------------------------------------------------
# Keys


def test_alert_key_is_the_sequence_and_kind() -> None:
    assert alert_key(12, Alert(AlertKind.USERS_ADDED, users=("a@x.io",))) == "12:users_added"


@given(st.sets(st.tuples(st.integers(), st.sampled_from(AlertKind))))
def test_alert_key_is_unique_per_sequence_and_kind(pairs: set[tuple[int, AlertKind]]) -> None:
    keys = {alert_key(sequence, Alert(kind)) for sequence, kind in pairs}
    assert len(keys) == len(pairs)


# ---------------------------------------------------------------------------------------------
# evaluate: properties over small e-mail sets, so that changes are frequent

EMAILS = ("ada@x.io", "bob@x.io", "cy@x.io", "dee@x.io", "eve@x.io")


@st.composite
def user_states(draw: st.DrawFn, email: str) -> UserState:
    return UserState(
        email=draw(st.sampled_from([email, email.upper(), email.capitalize()])),
        name=draw(st.sampled_from(["", "Ada", "<!channel>"])),
        active=draw(st.booleans()),
        activations=draw(st.integers(0, 6)),
        max_activations=draw(st.none() | st.integers(0, 5)),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    emails = draw(st.sets(st.sampled_from(EMAILS)))
    users = {email: draw(user_states(email)) for email in sorted(emails)}
    return Snapshot(customer_name=draw(st.sampled_from(["X", "Y"])), users=users)


thresholds = st.integers(-5, 110)

USER_KINDS = {
    AlertKind.REACHED_LIMIT,
    AlertKind.USERS_ADDED,
    AlertKind.USERS_REMOVED,
    AlertKind.USERS_DEACTIVATED,
    AlertKind.USERS_REACTIVATED,
}


@st.composite
def wild_snapshots(draw: st.DrawFn) -> Snapshot:
    """Anything the types allow: odd e-mails, negative or huge numbers, keys not from e-mails."""
    state = st.builds(
        UserState,
        email=st.text(max_size=20),
        name=st.text(max_size=20),
        active=st.booleans(),
        activations=st.integers(),
        max_activations=st.none() | st.integers(),
    )
    users = draw(st.dictionaries(st.text(max_size=5), state, max_size=8))
    return Snapshot(customer_name=draw(st.text(max_size=20)), users=users)


def keys_of(alerts: list[Alert], kind: AlertKind) -> list[str]:
    return [email_key(email) for alert in alerts if alert.kind is kind for email in alert.users]


@given(snapshots(), thresholds)
def test_the_same_snapshot_twice_is_no_alert(snapshot: Snapshot, threshold: int) -> None:
    assert evaluate(snapshot, snapshot, threshold) == []


@given(snapshots(), snapshots(), thresholds)
def test_no_kind_appears_twice_and_the_order_is_fixed(
    previous: Snapshot, current: Snapshot, threshold: int
) -> None:
    found = kinds(evaluate(previous, current, threshold))
    order = list(AlertKind)
    assert found == sorted(set(found), key=order.index)
    assert AlertKind.BASELINE not in found


@given(snapshots(), snapshots(), thresholds)
def test_every_changed_user_is_named_once_in_the_alert_of_its_kind(
    previous: Snapshot, current: Snapshot, threshold: int
) -> None:
    alerts = evaluate(previous, current, threshold)
    before, after = previous.users, current.users
    both = before.keys() & after.keys()
    expected = {
        AlertKind.USERS_ADDED: after.keys() - before.keys(),
        AlertKind.USERS_REMOVED: before.keys() - after.keys(),
        AlertKind.USERS_DEACTIVATED: {k for k in both if before[k].active and not after[k].active},
        AlertKind.USERS_REACTIVATED: {k for k in both if after[k].active and not before[k].active},
        AlertKind.REACHED_LIMIT: {
            k for k, u in after.items() if u.at_limit and not (k in before and before[k].at_limit)
        },
    }
    for kind, keys in expected.items():
        named = keys_of(alerts, kind)
        assert sorted(named) == sorted(keys), kind
    for alert in alerts:
        assert (alert.kind in USER_KINDS) == bool(alert.users)


@given(snapshots(), snapshots(), thresholds)
def test_threshold_alerts_match_the_utilisations(
    previous: Snapshot, current: Snapshot, threshold: int
) -> None:
    found = kinds(evaluate(previous, current, threshold))
    before, after = previous.utilisation_pct, current.utilisation_pct
    crossed = recovered = False
    if before is not None and after is not None:
        crossed = before < threshold <= after
        recovered = after < threshold <= before
    assert (AlertKind.THRESHOLD_CROSSED in found) == crossed
    assert (AlertKind.THRESHOLD_RECOVERED in found) == recovered


@given(st.none() | snapshots() | wild_snapshots(), snapshots() | wild_snapshots(), st.integers())
def test_evaluate_never_raises(
    previous: Snapshot | None, current: Snapshot, threshold: int
) -> None:
    alerts = evaluate(previous, current, threshold)
    assert all(isinstance(alert, Alert) for alert in alerts)
    if previous is None:
        assert kinds(alerts) == [AlertKind.BASELINE]


@given(snapshots() | wild_snapshots())
def test_every_snapshot_round_trips(snapshot: Snapshot) -> None:
    assert Snapshot.from_json(json.loads(json.dumps(snapshot.to_json()))) == snapshot
