"""Pure: a customer's license users -> the figures people ask about."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

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
    # One sort (by e-mail), then one pass that counts and drops each user into its concern's
    # bucket: the buckets, in order, are the problems-first list. With 50,000 users a second
    # sort, per-user tuples or a property call per user cost more than all the counting.
    buckets: tuple[list[LicenseUser], ...] = ([], [], [], [])
    active = used = maximum = without_max = 0
    active_used = active_maximum = active_without_max = 0
    inactive_initial = inactive_full = 0
    for user in sorted(answer.users, key=_email_key):
        activations = user.total_activations or 0
        user_max = user.max_activations
        known_max = user_max if user_max is not None and user_max > 0 else 0
        used += activations
        maximum += known_max
        without_max += not known_max
        if user.is_active:
            active += 1
            active_used += activations
            active_maximum += known_max
            active_without_max += not known_max
            if known_max and activations >= known_max:
                buckets[Concern.AT_LIMIT].append(user)
            elif user.is_initial_password:
                buckets[Concern.INITIAL_PASSWORD].append(user)
            else:
                buckets[Concern.ACTIVE].append(user)
        else:
            inactive_initial += user.is_initial_password
            inactive_full += bool(known_max) and activations >= known_max
            buckets[Concern.INACTIVE].append(user)
    ordered = tuple(user for bucket in buckets for user in bucket)
    return Summary(
        product=product,
        customer=answer.customer,
        users=ordered,
        total=len(ordered),
        active=active,
        inactive=len(ordered) - active,
        activations=Activations(used, maximum, without_max),
        active_activations=Activations(active_used, active_maximum, active_without_max),
        at_limit=tuple(buckets[Concern.AT_LIMIT]),
        on_initial_password=tuple(u for u in ordered if u.is_initial_password),
        inactive_on_initial_password=inactive_initial,
        inactive_at_limit=inactive_full,
    )


def _email_key(user: LicenseUser) -> str:
    return user.email.casefold()
