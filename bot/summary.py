"""Pure: a customer's license users -> the figures people ask about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from operator import attrgetter

from bot.gcpause import gc_paused
from bot.licensespring.models import Customer, CustomerLicenseUsers, LicenseUser


class Concern(IntEnum):
    """Sort order of the user list: problems first."""

    AT_LIMIT = 0
    INITIAL_PASSWORD = 1
    ACTIVE = 2
    INACTIVE = 3


def concern_of(user: LicenseUser) -> Concern:
    if user.is_active and user.at_activation_limit:
        return Concern.AT_LIMIT
    if user.is_active and user.is_initial_password:
        return Concern.INITIAL_PASSWORD
    if user.is_active:
        return Concern.ACTIVE
    return Concern.INACTIVE


@dataclass(frozen=True, slots=True)
class Activations:
    """Activations used against the maximum, over some set of license users."""

    used: int
    maximum: int  # summed over the users whose maximum is known
    users_without_max: int

    @property
    def utilisation(self) -> float | None:
        """used / maximum, or None when no maximum is known."""
        if self.maximum <= 0:
            return None
        return self.used / self.maximum


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of one customer's license users in one product.

    The headline figures (`activations`, `on_initial_password`) count every license user,
    active or not, as LicenseSpring's portal adds up the customer's licenses;
    `active_activations` is the active users' share, shown beside it and labelled as such.
    """

    product: str
    customer: Customer
    users: tuple[LicenseUser, ...]  # sorted, problems first
    total: int
    active: int
    inactive: int
    activations: Activations  # every license user
    active_activations: Activations  # active users only
    at_limit: tuple[LicenseUser, ...]  # active users whose activations reached the maximum
    on_initial_password: tuple[LicenseUser, ...]  # every user, inactive ones included
    inactive_on_initial_password: int
    inactive_at_limit: int = 0  # inactive users whose activations reached the maximum

    @property
    def activations_used(self) -> int:
        return self.activations.used

    @property
    def activations_max(self) -> int:
        return self.activations.maximum

    @property
    def users_without_max(self) -> int:
        return self.activations.users_without_max

    @property
    def utilisation(self) -> float | None:
        """Activations used / maximum over every license user, or None when no maximum is known."""
        return self.activations.utilisation


def summarise(product: str, answer: CustomerLicenseUsers) -> Summary:
    if len(answer.users) >= _PAUSE_GC_FROM_USERS:
        with gc_paused():
            return _summarise(product, answer)
    return _summarise(product, answer)


_PAUSE_GC_FROM_USERS = 1_000


def _summarise(product: str, answer: CustomerLicenseUsers) -> Summary:
    # One sort (by e-mail), then one pass that counts and drops each user into its concern's
    # list: the lists, in order, are the problems-first list. With 50,000 users a second
    # sort, per-user tuples, an enum index or a property call per user cost more than all the
    # counting, so the loop keeps to locals and bound `append`s.
    at_limit: list[LicenseUser] = []
    initial: list[LicenseUser] = []
    active_users: list[LicenseUser] = []
    inactive_users: list[LicenseUser] = []
    at_limit_initial: list[LicenseUser] = []
    inactive_initial: list[LicenseUser] = []
    add_at_limit, add_initial = at_limit.append, initial.append
    add_active, add_inactive = active_users.append, inactive_users.append
    used = maximum = without_max = 0
    active_used = active_maximum = active_without_max = 0
    inactive_full = 0
    for user in _by_email(answer.users):
        activations = user.total_activations or 0
        known_max = user.max_activations or 0
        if known_max < 0:
            known_max = 0
        used += activations
        maximum += known_max
        if not known_max:
            without_max += 1
        if user.is_active:
            active_used += activations
            active_maximum += known_max
            if not known_max:
                active_without_max += 1
            if known_max and activations >= known_max:
                add_at_limit(user)
                if user.is_initial_password:
                    at_limit_initial.append(user)
            elif user.is_initial_password:
                add_initial(user)
            else:
                add_active(user)
        else:
            if user.is_initial_password:
                inactive_initial.append(user)
            if known_max and activations >= known_max:
                inactive_full += 1
            add_inactive(user)
    ordered = (*at_limit, *initial, *active_users, *inactive_users)
    active = len(ordered) - len(inactive_users)
    return Summary(
        product=product,
        customer=answer.customer,
        users=ordered,
        total=len(ordered),
        active=active,
        inactive=len(inactive_users),
        activations=Activations(used, maximum, without_max),
        active_activations=Activations(active_used, active_maximum, active_without_max),
        at_limit=tuple(at_limit),
        on_initial_password=(*at_limit_initial, *initial, *inactive_initial),
        inactive_on_initial_password=len(inactive_initial),
        inactive_at_limit=inactive_full,
    )


def _by_email(users: Sequence[LicenseUser]) -> list[LicenseUser]:
    """Users sorted by case-folded e-mail (stable): the keys are computed by C-level maps."""
    keys = list(map(str.casefold, map(_EMAIL, users)))
    return list(map(users.__getitem__, sorted(range(len(users)), key=keys.__getitem__)))


_EMAIL = attrgetter("email")
