"""Pure: which customers a license user belongs to, from the Management API's licenses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.licensespring.management_models import ManagedLicense


class Found(StrEnum):
    """What asking the Management API about a non-customer's e-mail found."""

    NO_KEY = "no_key"  # no management key: the bot could not ask
    NONE = "none"  # not a license user either
    ONE = "one"  # a license user of one customer: that customer's answer follows
    SEVERAL = "several"  # a license user of several customers: never a silent pick
    UNKNOWN_CUSTOMER = "unknown_customer"  # one customer, whom the License API does not know
    FAILED = "failed"  # the Management API failed (`failure` says how)


@dataclass(frozen=True, slots=True)
class CustomerMatch:
    email: str
    name: str = ""
    company: str = ""


@dataclass(frozen=True, slots=True)
class ReverseLookup:
    found: Found
    license_user: str  # the e-mail that was looked up
    customers: tuple[CustomerMatch, ...] = ()
    failure: str | None = None


def customers_of(licenses: Sequence[ManagedLicense]) -> tuple[CustomerMatch, ...]:
    """The distinct customers of these licenses (by case-folded e-mail), by company and e-mail."""
    seen: dict[str, CustomerMatch] = {}
    for lic in licenses:
        customer = lic.customer
        if not customer.email:
            continue
        seen.setdefault(
            customer.email.casefold(),
            CustomerMatch(customer.email, customer.name, customer.company_name),
        )
    return tuple(
        sorted(seen.values(), key=lambda c: ((c.company or c.name).casefold(), c.email.casefold()))
    )
