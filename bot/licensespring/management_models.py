"""Typed, lenient models of the Management API's `/api/v1/licenses/` list.

Only the fields the bot reads are kept. `initial_password` is not a field of any model: it is
dropped while parsing and never reaches a caller, a log line or a cache. A missing, null or
malformed field becomes its default (unknown), never a failed answer; `max_license_users`
absent stays None (seats unknown), `0` means unlimited.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.licensespring.models import _lenient_model, _scrub


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LicenseCustomer(_Lenient):
    id: int | None = None
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part).strip()


class LicenseProduct(_Lenient):
    id: int | None = None
    short_code: str = ""
    product_name: str = ""


class AssignedUser(_Lenient):
    """A license user as the Management API lists it on a license (`email` is suffixed)."""

    id: int | None = None
    true_email: str = ""
    email: str = ""
    is_active: bool = False

    @property
    def address(self) -> str:
        """The real address: `true_email`, else the suffixed `email` without its suffix."""
        return self.true_email or self.email.split("|", 1)[0]


class ManagedLicense(_Lenient):
    id: int | None = None
    enabled: bool = True
    active: bool = True
    max_license_users: int | None = None  # None: not in the answer (seats unknown); 0: unlimited
    customer: LicenseCustomer = LicenseCustomer()
    product: LicenseProduct = LicenseProduct()
    license_users: tuple[AssignedUser, ...] = ()


class LicensePage(_Lenient):
    count: int = 0
    next: str | None = None
    results: tuple[ManagedLicense, ...] = ()


class MalformedList(ValueError):
    """The body is not JSON or not shaped like a Management API list."""


def parse_license_page(body: bytes | str) -> LicensePage:
    """One page of `/api/v1/licenses/`; raise MalformedList when it is not one."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedList("the body is not JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("results"), list):
        raise MalformedList("the body has no results list")
    count = raw.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise MalformedList("the body has no count")
    nxt = raw.get("next")
    return LicensePage(
        count=count,
        next=nxt if isinstance(nxt, str) else None,
        results=tuple(_license(item) for item in raw["results"] if isinstance(item, dict)),
    )


def _license(item: dict[str, Any]) -> ManagedLicense:
    data = _scrub(item)
    customer = data.pop("customer", None)
    product = data.pop("product", None)
    users = data.pop("license_users", None)
    return _lenient_model(ManagedLicense, data).model_copy(
        update={
            "customer": _lenient_model(LicenseCustomer, _scrub(customer))
            if isinstance(customer, dict)
            else LicenseCustomer(),
            "product": _lenient_model(LicenseProduct, _scrub(product))
            if isinstance(product, dict)
            else LicenseProduct(),
            "license_users": tuple(
                _lenient_model(AssignedUser, _scrub(user))
                for user in (users if isinstance(users, list) else [])
                if isinstance(user, dict)
            ),
        }
    )
