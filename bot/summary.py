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
    # One pass for the counts, then two stable sorts on plain keys (e-mail, then concern).
    # No per-user tuples: with 50,000 users, allocating them mostly fed the garbage collector.
    active = used = maximum = without_max = 0
    for user in answer.users:
        if user.is_active:
            active += 1
            used += user.total_activations or 0
            if user.max_activations:
                maximum += user.max_activations
            else:
                without_max += 1
    by_email = sorted(answer.users, key=_email_key)
    ordered = tuple(sorted(by_email, key=concern_of))
    at_limit_end = next(
        (i for i, user in enumerate(ordered) if concern_of(user) is not Concern.AT_LIMIT),
        len(ordered),
    )
    return Summary(
        product=product,
        customer=answer.customer,
        users=ordered,
        total=len(ordered),
        active=active,
        inactive=len(ordered) - active,
        activations_used=used,
        activations_max=maximum,
        users_without_max=without_max,
        at_limit=ordered[:at_limit_end],
        on_initial_password=tuple(u for u in ordered if u.is_active and u.is_initial_password),
    )


def _email_key(user: LicenseUser) -> str:
    return user.email.casefold()
