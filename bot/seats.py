"""Pure: seats of a customer's licenses, counted as LicenseSpring's portal counts them.

Every license user assigned to a license holds one of its seats, active or not. A license's
cap is its `max_license_users`: 0 means unlimited; absent means unknown, and a customer none of
whose licenses state a cap has no seat figures at all (the summary shows none, never "0").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.licensespring.management_models import ManagedLicense


class SeatsState(StrEnum):
    COUNTED = "counted"
    UNREADABLE = "unreadable"  # the Management API failed or was too slow
    TOO_MANY = "too_many"  # more licenses than the bot reads for one answer


@dataclass(frozen=True, slots=True)
class LicenseSeats:
    license_id: int | None
    used: int
    cap: int  # > 0: the seat cap; 0: unlimited
    users: frozenset[str]  # the assigned users' addresses, case-folded

    @property
    def full(self) -> bool:
        return self.cap > 0 and self.used >= self.cap


@dataclass(frozen=True, slots=True)
class Seats:
    state: SeatsState
    licenses: tuple[LicenseSeats, ...] = ()  # full licenses first

    @property
    def counted(self) -> bool:
        return self.state is SeatsState.COUNTED

    @property
    def capped(self) -> tuple[LicenseSeats, ...]:
        return tuple(lic for lic in self.licenses if lic.cap > 0)

    @property
    def used(self) -> int:
        """Seats used on the capped licenses."""
        return sum(lic.used for lic in self.capped)

    @property
    def maximum(self) -> int:
        return sum(lic.cap for lic in self.capped)

    @property
    def unlimited_used(self) -> int:
        """Seats used on licenses without a cap (0)."""
        return sum(lic.used for lic in self.licenses if lic.cap == 0)

    @property
    def full(self) -> tuple[LicenseSeats, ...]:
        return tuple(lic for lic in self.licenses if lic.full)

    def full_users(self) -> frozenset[str]:
        """Addresses (case-folded) of the users on a full license."""
        return frozenset(user for lic in self.full for user in lic.users)


SEATS_UNREADABLE = Seats(SeatsState.UNREADABLE)
TOO_MANY_LICENSES = Seats(SeatsState.TOO_MANY)


def count_seats(licenses: Sequence[ManagedLicense]) -> Seats | None:
    """The seats of these licenses, or None when none of them states a cap."""
    known = [
        LicenseSeats(
            license_id=lic.id,
            used=len(lic.license_users),
            cap=max(lic.max_license_users, 0),
            users=frozenset(user.address.casefold() for user in lic.license_users),
        )
        for lic in licenses
        if lic.max_license_users is not None
    ]
    if not known:
        return None
    known.sort(key=lambda lic: (not lic.full, -lic.cap, lic.license_id or 0))
    return Seats(SeatsState.COUNTED, tuple(known))
