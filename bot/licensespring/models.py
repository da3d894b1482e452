"""Typed models of the License API's customer_license_users answer.

`initial_password` is not a field of any model: it is dropped while parsing and never
reaches a caller, a log line or a cache. Parsing is lenient: a missing, null or malformed
field becomes its default instead of failing the lookup.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.gcpause import gc_paused

M = TypeVar("M", bound=BaseModel)

_CREDENTIAL_FIELDS = frozenset({"initial_password", "password"})
_PAUSE_GC_FROM_BYTES = 256 * 1024  # about 800 users


class _Lenient(BaseModel):
    # No Python-level validators: well-formed bodies validate natively, which keeps a
    # 50,000-user answer fast. Malformed ones take the lenient path in the parser.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Customer(_Lenient):
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""
    phone: str = ""
    reference: str = ""
    customer_account: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part).strip()


class LicenseUser(_Lenient):
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    is_active: bool = False
    is_initial_password: bool = False
    license_id: int | None = None
    order_id: int | None = None
    order_store_id: str = ""
    max_activations: int | None = None
    total_activations: int | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part).strip()

    @property
    def at_activation_limit(self) -> bool:
        return (
            self.max_activations is not None
            and self.max_activations > 0
            and (self.total_activations or 0) >= self.max_activations
        )


class CustomerLicenseUsers(_Lenient):
    customer: Customer = Customer()
    users: tuple[LicenseUser, ...] = ()


class MalformedBody(ValueError):
    """The body is not JSON or not shaped like a customer_license_users answer."""


def _scrub(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k not in _CREDENTIAL_FIELDS and v is not None}
    return item


def _lenient_model(model: type[M], data: dict[str, Any]) -> M:
    """Validate, dropping each field that fails so one bad value cannot fail the lookup."""
    data = dict(data)
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            if not bad & data.keys():
                break
            for key in bad:
                data.pop(key, None)
    return model()


def parse_customer_license_users(body: bytes | str) -> CustomerLicenseUsers:
    """Parse an answer body; raise MalformedBody when it is not one."""
    try:
        # Fast path: a well-formed body validates natively without Python per-field hooks.
        if len(body) >= _PAUSE_GC_FROM_BYTES:
            with gc_paused():
                answer = _Answer.model_validate_json(body)
        else:
            answer = _Answer.model_validate_json(body)
        return CustomerLicenseUsers(customer=answer.customer, users=answer.users)
    except ValidationError:
        pass
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody("the body is not JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("users") or [], list):
        raise MalformedBody("the body has no users list")
    if "customer" not in raw and "users" not in raw:
        raise MalformedBody("the body has neither customer nor users")
    customer_raw = raw.get("customer")
    customer = (
        _lenient_model(Customer, _scrub(customer_raw))
        if isinstance(customer_raw, dict)
        else Customer()
    )
    users = tuple(
        _lenient_model(LicenseUser, _scrub(item))
        for item in raw.get("users") or []
        if isinstance(item, dict)
    )
    return CustomerLicenseUsers(customer=customer, users=users)


class _Answer(_Lenient):
    """The strict shape: both keys present and every value well typed."""

    customer: Customer
    users: tuple[LicenseUser, ...]
