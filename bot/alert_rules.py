"""Pure alert rules: two snapshots of a customer's license users -> the alerts worth posting.

No I/O and no clock: the worker stores snapshots and failure states, calls these functions and
posts what they return. A snapshot keeps only what the rules and the alert messages need (never
a password), keyed by lowercase e-mail so a change of case is not a change of user.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bot.licensespring.models import LicenseUser
from bot.summary import Summary

SNAPSHOT_FORMAT = 1
DEFAULT_THRESHOLD_PCT = 90
"""A watch alerts when this share of all activations is used, unless told otherwise."""
"""Version of the `Snapshot.to_json` layout; `from_json` refuses any other."""

_CUSTOMER_NAME_CHARS = 200


def email_key(email: str) -> str:
    """The key of a user in `Snapshot.users`: the e-mail in lowercase."""
    return email.lower()


@dataclass(frozen=True, slots=True)
class UserState:
    """One license user as the rules see them."""

    email: str  # as the API gave it (display); snapshot keys are `email_key(email)`
    name: str
    active: bool
    activations: int  # total_activations, or 0 when unknown
    max_activations: int | None

    @property
    def at_limit(self) -> bool:
        """Active with a known maximum (> 0) that the activations reached."""
        return (
            self.active
            and self.max_activations is not None
            and self.max_activations > 0
            and self.activations >= self.max_activations
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a watch saw at one successful poll.

    `users` is copied into a read-only mapping, so a snapshot cannot change after it is made.
    """

    customer_name: str  # for messages: "Name · Company", the name, the company or the e-mail
    users: Mapping[str, UserState] = field(default_factory=dict, hash=False)
    # (used, maximum) over every license user, as the summary's headline; None: add up `users`
    # (snapshots stored before the headline counted every user).
    all_activations: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", MappingProxyType(dict(self.users)))

    @property
    def total_count(self) -> int:
        return len(self.users)

    @property
    def active_count(self) -> int:
        return sum(1 for user in self.users.values() if user.active)

    @property
    def at_limit_count(self) -> int:
        return sum(1 for user in self.users.values() if user.at_limit)

    @property
    def activations_used(self) -> int:
        """Activations of every license user (as in `Summary.activations_used`)."""
        if self.all_activations is not None:
            return self.all_activations[0]
        return sum(user.activations for user in self.users.values())

    @property
    def activations_max(self) -> int:
        """Known maxima (> 0) of every license user."""
        if self.all_activations is not None:
            return self.all_activations[1]
        return sum(_known_max(user) for user in self.users.values())

    @property
    def active_activations_used(self) -> int:
        """The active users' share of `activations_used`."""
        return sum(user.activations for user in self.users.values() if user.active)

    @property
    def active_activations_max(self) -> int:
        return sum(_known_max(user) for user in self.users.values() if user.active)

    @property
    def utilisation_pct(self) -> int | None:
        """floor(100 * used / max) over every license user, or None when no maximum is known.

        This is the figure a watch's threshold is compared with: the summary's headline.
        Floor, not round: "at or above 90%" then means the activations really reached 90%.
        """
        maximum = self.activations_max
        if maximum <= 0:
            return None
        return 100 * self.activations_used // maximum

    def to_json(self) -> dict[str, Any]:
        """Compact and JSON-serialisable: `{"v": 1, "customer": ..., "users": {key: [...]}}`."""
        data: dict[str, Any] = {
            "v": SNAPSHOT_FORMAT,
            "customer": self.customer_name,
            "users": {
                key: [user.email, user.name, user.active, user.activations, user.max_activations]
                for key, user in self.users.items()
            },
        }
        if self.all_activations is not None:
            data["activations"] = list(self.all_activations)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Snapshot | None:
        """The snapshot `to_json` gave (also as JSON text), or None for anything malformed.

        A stored snapshot may be old or corrupt; the worker then starts over with a baseline
        instead of crashing.
        """
        if isinstance(data, str | bytes | bytearray):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError):
                return None
        if not isinstance(data, dict) or not _is_int(data.get("v")):
            return None
        customer, rows = data.get("customer"), data.get("users")
        if data["v"] != SNAPSHOT_FORMAT or not isinstance(customer, str):
            return None
        if not isinstance(rows, dict):
            return None
        totals = data.get("activations")
        if totals is not None and not (
            isinstance(totals, list) and len(totals) == 2 and all(_is_int(t) for t in totals)
        ):
            return None
        users: dict[str, UserState] = {}
        for key, row in rows.items():
            state = _user_state_from_json(row)
            if not isinstance(key, str) or state is None:
                return None
            users[key] = state
        all_activations = (totals[0], totals[1]) if totals is not None else None
        return cls(customer_name=customer, users=users, all_activations=all_activations)


def _known_max(user: UserState) -> int:
    return (
        user.max_activations if user.max_activations is not None and user.max_activations > 0 else 0
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _user_state_from_json(row: Any) -> UserState | None:
    if not isinstance(row, list) or len(row) != 5:
        return None
    email, name, active, activations, maximum = row
    if not isinstance(email, str) or not isinstance(name, str) or not isinstance(active, bool):
        return None
    if not _is_int(activations) or not (maximum is None or _is_int(maximum)):
        return None
    return UserState(email, name, active, activations, maximum)


# ---------------------------------------------------------------------------------------------
# Summary -> snapshot


def snapshot_of(summary: Summary) -> Snapshot:
    """The snapshot of a lookup's summary; its totals equal the summary's.

    A user listed several times (one entry per license) becomes one state: only active entries
    count when there is one, and their activations and known maxima are added up, which keeps
    the active users' share equal to the summary's. Such a user is "at limit" when all of their
    activations are used. The headline totals over every license user are kept as given.
    """
    users: dict[str, UserState] = {}
    for user in summary.users:
        state = _user_state(user)
        key = email_key(user.email)
        known = users.get(key)
        users[key] = state if known is None else _merge(known, state)
    return Snapshot(
        customer_name=_customer_name(summary),
        users=users,
        all_activations=(summary.activations_used, summary.activations_max),
    )


def _user_state(user: LicenseUser) -> UserState:
    return UserState(
        email=user.email,
        name=user.name,
        active=user.is_active,
        activations=user.total_activations or 0,
        max_activations=user.max_activations,
    )


def _merge(first: UserState, second: UserState) -> UserState:
    if first.active != second.active:
        return first if first.active else second
    maxima = [m for m in (first.max_activations, second.max_activations) if m is not None and m > 0]
    return UserState(
        email=first.email,
        name=first.name or second.name,
        active=first.active,
        activations=first.activations + second.activations,
        max_activations=sum(maxima) if maxima else first.max_activations,
    )


def _customer_name(summary: Summary) -> str:
    customer = summary.customer
    name, company = customer.name.strip(), customer.company_name.strip()
    if name and company and name.casefold() != company.casefold():
        text = f"{name} · {company}"
    else:
        text = name or company or customer.email.strip()
    return text[:_CUSTOMER_NAME_CHARS]


# ---------------------------------------------------------------------------------------------
# Alerts


class AlertKind(StrEnum):
    """What an alert is about. `evaluate` returns alerts in this declaration order."""

    BASELINE = "baseline"  # first successful poll of a new watch: the current numbers
    REACHED_LIMIT = "reached_limit"  # users that became at-limit (or are new and at limit)
    THRESHOLD_CROSSED = "threshold_crossed"  # utilisation went from < threshold to >= threshold
    THRESHOLD_RECOVERED = "threshold_recovered"  # from >= threshold back to < threshold
    USERS_ADDED = "users_added"
    USERS_REMOVED = "users_removed"
    USERS_DEACTIVATED = "users_deactivated"  # active -> inactive
    USERS_REACTIVATED = "users_reactivated"  # inactive -> active
    LOOKUP_FAILING = "lookup_failing"
    LOOKUP_RECOVERED = "lookup_recovered"


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing to post.

    `before`/`after` are the relevant number: utilisation % for the threshold kinds and
    BASELINE, the user count for added/removed, the active count for (de|re)activated, the
    at-limit count for REACHED_LIMIT, the consecutive failures for the lookup kinds.
    """

    kind: AlertKind
    users: tuple[str, ...] = ()  # affected users' display e-mails, sorted case-insensitively
    before: int | None = None
    after: int | None = None
    detail: str | None = None  # the error code for LOOKUP_FAILING


def evaluate(previous: Snapshot | None, current: Snapshot, threshold_pct: int) -> list[Alert]:
    """The alerts for the change from `previous` to `current`.

    No previous snapshot (a new watch, or an unreadable stored one): only BASELINE. Otherwise
    at most one alert per kind, in `AlertKind` order: REACHED_LIMIT, THRESHOLD_CROSSED,
    THRESHOLD_RECOVERED, USERS_ADDED, USERS_REMOVED, USERS_DEACTIVATED, USERS_REACTIVATED.
    Activations that change without crossing the threshold or bringing someone to the limit
    are not an alert. A threshold is crossed only between two known utilisations.
    """
    if previous is None:
        return [Alert(AlertKind.BASELINE, after=current.utilisation_pct)]
    candidates = [
        _reached_limit(previous, current),
        *_threshold(previous, current, threshold_pct),
        *_membership(previous, current),
        *_activity(previous, current),
    ]
    return [alert for alert in candidates if alert is not None]


def _reached_limit(previous: Snapshot, current: Snapshot) -> Alert | None:
    reached = [
        key
        for key, user in current.users.items()
        if user.at_limit and not _at_limit_in(previous, key)
    ]
    return _users_alert(
        AlertKind.REACHED_LIMIT,
        current,
        reached,
        previous.at_limit_count,
        current.at_limit_count,
    )


def _at_limit_in(snapshot: Snapshot, key: str) -> bool:
    user = snapshot.users.get(key)
    return user is not None and user.at_limit


def _threshold(previous: Snapshot, current: Snapshot, threshold_pct: int) -> list[Alert]:
    before, after = previous.utilisation_pct, current.utilisation_pct
    if before is None or after is None:
        return []
    if before < threshold_pct <= after:
        return [Alert(AlertKind.THRESHOLD_CROSSED, before=before, after=after)]
    if after < threshold_pct <= before:
        return [Alert(AlertKind.THRESHOLD_RECOVERED, before=before, after=after)]
    return []


def _membership(previous: Snapshot, current: Snapshot) -> list[Alert | None]:
    added = [key for key in current.users if key not in previous.users]
    removed = [key for key in previous.users if key not in current.users]
    before, after = previous.total_count, current.total_count
    return [
        _users_alert(AlertKind.USERS_ADDED, current, added, before, after),
        _users_alert(AlertKind.USERS_REMOVED, previous, removed, before, after),
    ]


def _activity(previous: Snapshot, current: Snapshot) -> list[Alert | None]:
    kept = [key for key in current.users if key in previous.users]
    deactivated = [k for k in kept if previous.users[k].active and not current.users[k].active]
    reactivated = [k for k in kept if current.users[k].active and not previous.users[k].active]
    before, after = previous.active_count, current.active_count
    return [
        _users_alert(AlertKind.USERS_DEACTIVATED, current, deactivated, before, after),
        _users_alert(AlertKind.USERS_REACTIVATED, current, reactivated, before, after),
    ]


def _users_alert(
    kind: AlertKind, source: Snapshot, keys: Iterable[str], before: int, after: int
) -> Alert | None:
    """An alert naming the users of `keys` (display e-mails from `source`); None if none."""
    emails = sorted((source.users[key].email for key in keys), key=lambda e: (e.casefold(), e))
    if not emails:
        return None
    return Alert(kind, users=tuple(emails), before=before, after=after)


# ---------------------------------------------------------------------------------------------
# Lookup failures


@dataclass(frozen=True, slots=True)
class FailureState:
    """Consecutive failed lookups of a watch, and whether LOOKUP_FAILING was posted."""

    consecutive_failures: int = 0
    alerted: bool = False


def evaluate_failure(
    state: FailureState, error_code: str | None, *, alert_after: int = 3
) -> tuple[FailureState, list[Alert]]:
    """The next failure state after one lookup, and the alert to post, if any.

    `error_code` None means the lookup succeeded. One LOOKUP_FAILING (detail: the error code)
    when the count of consecutive failures reaches `alert_after`, none for further failures;
    one LOOKUP_RECOVERED on the first success after that. A success resets the state.
    """
    if alert_after < 1:
        raise ValueError("alert_after must be at least 1")
    if error_code is None:
        alerts = (
            [Alert(AlertKind.LOOKUP_RECOVERED, before=state.consecutive_failures, after=0)]
            if state.alerted
            else []
        )
        return FailureState(), alerts
    failures = state.consecutive_failures + 1
    if state.alerted or failures < alert_after:
        return FailureState(failures, state.alerted), []
    alert = Alert(
        AlertKind.LOOKUP_FAILING,
        before=state.consecutive_failures,
        after=failures,
        detail=error_code,
    )
    return FailureState(failures, alerted=True), [alert]


def alert_key(sequence: int, alert: Alert) -> str:
    """The outbox's idempotency key: `"{sequence}:{kind}"`.

    `sequence` is the watch's snapshot sequence number the alert belongs to; `evaluate` yields
    at most one alert per kind, so the key is unique per watch.
    """
    return f"{sequence}:{alert.kind.value}"
