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
class Summary:
    product: str
    customer: Customer
    users: tuple[LicenseUser, ...]  # sorted, problems first
    total: int
    active: int
    inactive: int
    activations_used: int
    activations_max: int  # summed over users whose maximum is known
    users_without_max: int
    at_limit: tuple[LicenseUser, ...]
    on_initial_password: tuple[LicenseUser, ...]

    @property
    def utilisation(self) -> float | None:
        """Activations used / maximum, or None when no maximum is known."""
        if self.activations_max <= 0:
            return None
        return self.activations_used / self.activations_max


def summarise(product: str, answer: CustomerLicenseUsers) -> Summary:
    keyed = sorted(
        answer.users,
        key=lambda user: (concern_of(user), user.email.casefold()),
    )
    active = sum(1 for user in keyed if user.is_active)
    used = sum(user.total_activations or 0 for user in keyed if user.is_active)
    maximum = sum(user.max_activations for user in keyed if user.is_active and user.max_activations)
    without_max = sum(1 for user in keyed if user.is_active and not user.max_activations)
    return Summary(
        product=product,
        customer=answer.customer,
        users=tuple(keyed),
        total=len(keyed),
        active=active,
        inactive=len(keyed) - active,
        activations_used=used,
        activations_max=maximum,
        users_without_max=without_max,
        at_limit=tuple(u for u in keyed if concern_of(u) is Concern.AT_LIMIT),
        on_initial_password=tuple(u for u in keyed if u.is_active and u.is_initial_password),
    )
