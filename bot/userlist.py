"""Pure: which of a customer's users to list, for a search and a filter.

A `UserIndex` is built once per License API answer and reused by every page, search and filter
of that answer (the lookup service keeps one per cached answer), so paging or refining a
search in a 50,000-user customer costs neither an upstream call nor a re-sort.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import compress

from bot.licensespring.models import LicenseUser
from bot.summary import Concern, Summary, concern_of

MAX_SEARCH_CHARS = 100
"""Longer searches are refused: they carry in every button value of the reply."""


class UserFilter(StrEnum):
    """The filter menu's choices; the values travel in button values (keep them short)."""

    ALL = "all"
    AT_LIMIT = "limit"
    INITIAL_PASSWORD = "initpw"  # noqa: S105 - a filter name, not a password
    ACTIVE = "active"
    INACTIVE = "inactive"

    @property
    def label(self) -> str:
        return _FILTER_LABELS[self]

    @property
    def phrase(self) -> str:
        """How the filter reads after "N users": "at their activation limit"."""
        return _FILTER_PHRASES[self]


_FILTER_LABELS = {
    UserFilter.ALL: "All users",
    UserFilter.AT_LIMIT: "At activation limit",
    UserFilter.INITIAL_PASSWORD: "On initial password",
    UserFilter.ACTIVE: "Active",
    UserFilter.INACTIVE: "Inactive",
}
_FILTER_PHRASES = {
    UserFilter.ALL: "",
    UserFilter.AT_LIMIT: "at their activation limit",
    UserFilter.INITIAL_PASSWORD: "on the initial password",
    UserFilter.ACTIVE: "active",
    UserFilter.INACTIVE: "inactive",
}


@dataclass(frozen=True, slots=True)
class UserQuery:
    """A search (already cleaned: one line, no control characters) and a filter."""

    search: str | None = None
    filter: UserFilter = UserFilter.ALL

    @property
    def everyone(self) -> bool:
        return not self.search and self.filter is UserFilter.ALL


EVERYONE = UserQuery()


def search_terms(search: str | None) -> tuple[str, ...]:
    """Case-folded words; a user matches when every word is in their e-mail, first or last name."""
    return tuple(search.casefold().split()) if search else ()


def user_matches(user: LicenseUser, terms: Sequence[str]) -> bool:
    """The slow, obvious definition of a match (the index gives the same answers, faster)."""
    fields = (user.email.casefold(), user.first_name.casefold(), user.last_name.casefold())
    return all(any(term in text for text in fields) for term in terms)


@dataclass(frozen=True, slots=True)
class Selection:
    """The users a query selects, problems first, and the counts its filter menu shows."""

    query: UserQuery
    users: tuple[LicenseUser, ...]
    total: int  # the customer's users
    matching: int  # users matching the search (all of them without one)
    filter_counts: dict[UserFilter, int] = field(default_factory=dict)  # within `matching`

    @property
    def count(self) -> int:
        return len(self.users)


def everyone(summary: Summary) -> Selection:
    """All of the summary's users, with the counts of each filter (no index needed)."""
    return Selection(
        query=EVERYONE,
        users=summary.users,
        total=summary.total,
        matching=summary.total,
        filter_counts=_summary_counts(summary),
    )


def _summary_counts(summary: Summary) -> dict[UserFilter, int]:
    return {
        UserFilter.ALL: summary.total,
        UserFilter.AT_LIMIT: len(summary.at_limit),
        UserFilter.INITIAL_PASSWORD: len(summary.on_initial_password),
        UserFilter.ACTIVE: summary.active,
        UserFilter.INACTIVE: summary.inactive,
    }


SORT_MATCHES_UP_TO = 512


def _problems_first(user: LicenseUser) -> tuple[Concern, str]:
    """The order `summarise` gives, for users in answer order (the tests check they agree)."""
    return concern_of(user), user.email.casefold()


# The separator between a user's fields in their search key: a search never contains it,
# because searches are cleaned of control characters, so a word cannot match across fields.
_FIELD_SEPARATOR = "\x1f"
_MAX_CACHED_SELECTIONS = 32


class UserIndex:
    """Search and filters over one summary, with the selections of recent queries kept.

    `original` is the answer's users in the order they were parsed: reading them in that order
    (rather than the summary's sorted order) keeps memory access sequential, which makes
    building the search keys of 50,000 users about twice as fast.
    """

    def __init__(self, summary: Summary, original: Sequence[LicenseUser] | None = None) -> None:
        self.summary = summary
        self._original = tuple(original) if original is not None else summary.users
        self._keys: list[str] | None = None
        self._at_limit = frozenset(map(id, summary.at_limit))
        self._initial_password = frozenset(map(id, summary.on_initial_password))
        self._selections: OrderedDict[UserQuery, Selection] = OrderedDict()
        # Large indexes are searched in worker threads while the event loop pages others.
        self._lock = threading.Lock()

    def select(self, query: UserQuery = EVERYONE) -> Selection:
        with self._lock:
            cached = self._selections.get(query)
            if cached is not None:
                self._selections.move_to_end(query)
                return cached
        selection = self._select(query)
        with self._lock:
            self._selections[query] = selection
            while len(self._selections) > _MAX_CACHED_SELECTIONS:
                self._selections.popitem(last=False)
        return selection

    def is_selected(self, query: UserQuery) -> bool:
        """Whether `select(query)` is answered from memory (no work for the event loop)."""
        with self._lock:
            return query in self._selections

    def _select(self, query: UserQuery) -> Selection:
        summary = self.summary
        if query.search:
            matches = self._matching(search_terms(query.search))
            counts = self._counts(matches)
        else:
            matches = summary.users
            counts = _summary_counts(summary)
        return Selection(
            query=query,
            users=self._filtered(matches, query.filter),
            total=summary.total,
            matching=len(matches),
            filter_counts=counts,
        )

    def _filtered(
        self, users: tuple[LicenseUser, ...], chosen: UserFilter
    ) -> tuple[LicenseUser, ...]:
        summary = self.summary
        if chosen is UserFilter.ALL:
            return users
        if users is summary.users and chosen is UserFilter.AT_LIMIT:
            return summary.at_limit
        if users is summary.users and chosen is UserFilter.INITIAL_PASSWORD:
            return summary.on_initial_password
        return tuple(user for user in users if self._passes(user, chosen))

    def _passes(self, user: LicenseUser, chosen: UserFilter) -> bool:
        if chosen is UserFilter.AT_LIMIT:
            return id(user) in self._at_limit
        if chosen is UserFilter.INITIAL_PASSWORD:
            return id(user) in self._initial_password
        if chosen is UserFilter.ACTIVE:
            return user.is_active
        if chosen is UserFilter.INACTIVE:
            return not user.is_active
        return True

    def _counts(self, users: Sequence[LicenseUser]) -> dict[UserFilter, int]:
        active = sum(1 for user in users if user.is_active)
        return {
            UserFilter.ALL: len(users),
            UserFilter.AT_LIMIT: sum(1 for user in users if id(user) in self._at_limit),
            UserFilter.INITIAL_PASSWORD: sum(
                1 for user in users if id(user) in self._initial_password
            ),
            UserFilter.ACTIVE: active,
            UserFilter.INACTIVE: len(users) - active,
        }

    def _matching(self, terms: tuple[str, ...]) -> tuple[LicenseUser, ...]:
        if not terms:
            return self.summary.users
        keys = self._search_keys()
        first, rest = terms[0], terms[1:]
        original = self._original
        matched = [
            original[index]
            for index, key in enumerate(keys)
            if first in key and all(term in key for term in rest)
        ]
        if len(matched) <= SORT_MATCHES_UP_TO:
            # Few matches: sorting them is cheaper than walking every sorted user.
            return tuple(sorted(matched, key=_problems_first))
        wanted = set(map(id, matched))
        sorted_users = self.summary.users
        return tuple(compress(sorted_users, map(wanted.__contains__, map(id, sorted_users))))

    def _search_keys(self) -> list[str]:
        if self._keys is None:
            sep = _FIELD_SEPARATOR
            self._keys = [
                f"{user.email}{sep}{user.first_name}{sep}{user.last_name}".casefold()
                for user in self._original
            ]
        return self._keys
