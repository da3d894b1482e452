"""The sandbox Management API: `/api/v1/licenses/` and `/api/v1/license-users/`.

Served over the sandbox's seeded License API data: each customer's license users sit on one
license (no seat cap in the answer) unless `SEAT_LICENSES` lays their licenses out with caps.
As on the real server: `Authorization: Api-Key <key>`, Django REST framework errors
(`{"detail": ...}`), `limit`/`offset` paging (`/licenses/` caps `limit` at 100), the documented
filters, and **unknown query parameters ignored** (the list is then everything). License users
carry `initial_password` as the real answers may. Faults reuse `bot.sandbox.faults`.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.sandbox import seed
from bot.sandbox.faults import Fault, failure_response
from bot.sandbox.seed import Body

LICENSES_PATH = "/api/v1/licenses/"
LICENSE_USERS_PATH = "/api/v1/license-users/"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Customers = Callable[[], Mapping[str, Mapping[str, Body]]]

SeatLayout = tuple[tuple[int, tuple[str, ...]], ...]
"""(max_license_users, the license users' e-mails) per license of one customer."""

SEAT_LICENSES: dict[tuple[str, str], SeatLayout] = {
    # 8 / 15 seats, one license full (the example).
    ("acme-desktop", seed.TYPICAL): (
        (
            5,
            (
                "ada.lovelace@analytical.example",
                "charles.babbage@analytical.example",
                "mary.somerville@analytical.example",
                "augustus.demorgan@analytical.example",
                "luigi.menabrea@analytical.example",
            ),
        ),
        (
            10,
            (
                "michael.faraday@analytical.example",
                "john.herschel@analytical.example",
                "george.boole@analytical.example",
            ),
        ),
    ),
    ("acme-desktop", seed.ACME): (
        (5, ("jane@acme.example", "raj@acme.example", "pat.consultant@example.org")),
    ),
    ("acme-desktop", seed.GLOBEX): ((0, ("homer@globex.example", "pat.consultant@example.org")),),
}


class ManagementState:
    """The Management API's licenses (built from the License API data), key, faults, counters."""

    def __init__(self, customers: Customers) -> None:
        self._customers = customers
        self.api_key = seed.SANDBOX_MANAGEMENT_API_KEY
        self.extra: list[dict[str, Any]] = [_orphan_license()]
        # A server that does not know the filters (an older version, a renamed filter): it
        # ignores them, as django-filter ignores unknown parameters, and lists everything.
        self.ignore_filters = False
        self._fault: Fault | None = None
        self._failures_left: int | None = None
        self._lock = threading.Lock()
        # Each customer's licenses, built once per version of its answer: the identities of
        # its users (the sandbox replaces a user's record on every change, never edits it).
        self._built: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}
        self.reset_counters()

    def reset_counters(self) -> None:
        with self._lock:
            self.requests = 0
            self.parameters_seen: Counter[str] = Counter()
            self.faulted = 0

    def reset(self) -> None:
        self.reset_counters()
        self.clear_fault()
        self.ignore_filters = False
        with self._lock:
            self.extra = [_orphan_license()]

    # --- data -------------------------------------------------------------------------

    def add_license(
        self,
        product: str,
        customer: Mapping[str, Any],
        users: Iterable[str],
        *,
        max_license_users: int | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One more license (tests: a user on many customers, a customer of many licenses)."""
        license_ = _license(
            product, dict(customer), [_user(email) for email in users], max_license_users
        )
        license_.update(fields or {})
        with self._lock:
            self.extra.append(license_)
        return license_

    def licenses(self, customer_email: str | None = None) -> list[dict[str, Any]]:
        """Every license (read-only: do not change them), or only one customer's."""
        found: list[dict[str, Any]] = []
        wanted = customer_email.lower() if customer_email is not None else None
        for product, customers in self._customers().items():
            for email, body in customers.items():
                if wanted is None or email == wanted:
                    found.extend(self._licenses_of(product, email, body))
        with self._lock:
            found.extend(
                lic
                for lic in self.extra
                if wanted is None or _lower(lic["customer"]["email"]) == wanted
            )
        return found

    def _licenses_of(self, product: str, email: str, body: Body) -> list[dict[str, Any]]:
        version = hash((id(body), *map(id, body.get("users") or [])))
        built = self._built.get((product, email))
        if built is None or built[0] != version:
            licenses = _customer_licenses(product, email, body)
            self._built[(product, email)] = (version, licenses)
            return licenses
        return built[1]

    # --- faults -----------------------------------------------------------------------

    def set_fault(self, fault: Fault | None = None, **fields: Any) -> Fault:
        new_fault = fault if fault is not None else Fault(**fields)
        with self._lock:
            self._fault = new_fault
            self._failures_left = new_fault.times
        return new_fault

    def clear_fault(self) -> None:
        with self._lock:
            self._fault = None
            self._failures_left = None

    def latency_s(self) -> float:
        fault = self._fault
        return fault.latency_ms / 1000 if fault is not None else 0.0

    def take_failure(self, email: str) -> Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or not fault.fails or not fault.matches(email):
                return None
            if self._failures_left is not None:
                if self._failures_left <= 0:
                    return None
                self._failures_left -= 1
            self.faulted += 1
            return fault


def _orphan_license() -> dict[str, Any]:
    customer = seed.customer_record(seed.ORPHAN_CUSTOMER, "Gone", "Away", "Departed Ltd")
    return _license("acme-desktop", customer, [_user(seed.ORPHAN_USER)], 3)


def _user(email: str, source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    source = source or {}
    number = seed._digest_int("management-user:" + email.lower())
    return {
        "id": 1_000 + number % 1_000_000,
        "email": f"{email}|uss1",
        "true_email": email,
        "is_active": source.get("is_active", True),
        "first_name": source.get("first_name", ""),
        "last_name": source.get("last_name", ""),
        "max_activations": source.get("max_activations", 1),
        "total_activations": source.get("total_activations", 0),
        "is_initial_password": bool(source.get("is_initial_password")),
        "initial_password": source.get("initial_password", ""),
    }


def _license(
    product: str,
    customer: dict[str, Any],
    users: list[dict[str, Any]],
    max_license_users: int | None,
) -> dict[str, Any]:
    key = f"{product}\n{customer.get('email', '')}\n{','.join(u['true_email'] for u in users)}"
    number = seed._digest_int("management-license:" + key.lower())
    customer_id = seed._digest_int("customer:" + str(customer.get("email", "")).lower()) % 100_000
    license_: dict[str, Any] = {
        "id": 1_000_000_000_000 + number % 1_000_000_000_000,
        "status": "Active",
        "enabled": True,
        "active": True,
        "license_key": None,
        "license_type": "perpetual",
        "is_trial": False,
        "order_store_id": f"ord_{number:016x}",
        "customer": {
            "id": customer_id,
            "email": customer.get("email", ""),
            "first_name": customer.get("first_name", ""),
            "last_name": customer.get("last_name", ""),
            "company_name": customer.get("company_name", ""),
        },
        "product": {
            "id": seed._digest_int("product:" + product) % 10_000,
            "short_code": product,
            "product_name": product.replace("-", " ").title(),
            "authorization_method": "user",
        },
        "license_users": users,
    }
    if max_license_users is not None:
        license_["max_license_users"] = max_license_users
    return license_


def _customer_licenses(product: str, email: str, body: Body) -> list[dict[str, Any]]:
    customer = body.get("customer") or {}
    by_email = {str(u.get("email", "")).lower(): u for u in body.get("users") or []}
    layout = SEAT_LICENSES.get((product, email))
    if layout is None:
        users = [_user(str(u.get("email", "")), u) for u in by_email.values()]
        return [_license(product, customer, users, None)] if users else []
    return [
        _license(product, customer, [_user(e, by_email.get(e)) for e in emails], cap)
        for cap, emails in layout
    ]


# --- filters --------------------------------------------------------------------------


def _lower(value: Any) -> str:
    return str(value or "").lower()


def _truthy(value: str) -> bool:
    return value.lower() in {"true", "1", "yes"}


LicenseFilter = Callable[[dict[str, Any], str], bool]

_LICENSE_FILTERS: dict[str, LicenseFilter] = {
    # Exact filters compare case-sensitively, as Django's do on PostgreSQL.
    "license_users__true_email": lambda lic, v: any(
        u.get("true_email") == v for u in lic["license_users"]
    ),
    "license_users__true_email__icontains": lambda lic, v: any(
        v.lower() in _lower(u.get("true_email")) for u in lic["license_users"]
    ),
    "customer_email": lambda lic, v: lic["customer"].get("email") == v,
    "customer_email__icontains": lambda lic, v: v.lower() in _lower(lic["customer"].get("email")),
    "product_short_code": lambda lic, v: lic["product"]["short_code"] == v,
    "customer_id": lambda lic, v: str(lic["customer"].get("id")) == v,
    "order__store_id": lambda lic, v: lic.get("order_store_id") == v,
    "license_key": lambda lic, v: lic.get("license_key") == v,
    "active": lambda lic, v: bool(lic.get("active")) == _truthy(v),
    "enabled": lambda lic, v: bool(lic.get("enabled")) == _truthy(v),
}

UserFilter = Callable[[dict[str, Any], str], bool]

_USER_FILTERS: dict[str, UserFilter] = {
    "true_email__iexact": lambda u, v: _lower(u.get("true_email")) == v.lower(),
    "true_email__icontains": lambda u, v: v.lower() in _lower(u.get("true_email")),
    "first_name__icontains": lambda u, v: v.lower() in _lower(u.get("first_name")),
    "last_name__icontains": lambda u, v: v.lower() in _lower(u.get("last_name")),
}


# --- endpoints ------------------------------------------------------------------------


def _refusal(request: Request, state: ManagementState) -> Response | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, key = authorization.partition(" ")
    if not authorization:
        return JSONResponse(
            {"detail": "Authentication credentials were not provided."}, status_code=401
        )
    if scheme != "Api-Key" or not hmac.compare_digest(key.strip().encode(), state.api_key.encode()):
        return JSONResponse({"detail": "Invalid API key."}, status_code=401)
    return None


async def _sleep_unless_disconnected(request: Request, delay: float) -> bool:
    """Sleep `delay` seconds; False as soon as the client hangs up (a hang must not linger)."""
    deadline = time.monotonic() + delay
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 0.05))
        if await request.is_disconnected():
            return False
    return True


def _paging(request: Request) -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        value = request.query_params.get(name, "")
        return int(value) if value.isdigit() else default

    return min(number("limit", DEFAULT_LIMIT), MAX_LIMIT) or DEFAULT_LIMIT, number("offset", 0)


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    limit, offset = _paging(request)
    base = str(request.url.replace(query=""))
    params = dict(request.query_params)

    def link(at: int) -> str:
        return f"{base}?{urlencode({**params, 'limit': limit, 'offset': at})}"

    return JSONResponse(
        {
            "count": len(items),
            "next": link(offset + limit) if offset + limit < len(items) else None,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "results": items[offset : offset + limit],
        }
    )


async def _misbehave(request: Request, state: ManagementState) -> Response | None:
    with state._lock:
        state.requests += 1
        state.parameters_seen.update(request.query_params.keys())
    delay = state.latency_s()
    if delay > 0 and not await _sleep_unless_disconnected(request, delay):
        return Response(status_code=499)  # the client gave up; nobody reads this
    subject = next(
        (
            request.query_params[name]
            for name in ("license_users__true_email", "customer_email", "true_email__iexact")
            if name in request.query_params
        ),
        "",
    )
    fault = state.take_failure(subject)
    return failure_response(fault) if fault is not None else None


async def licenses(request: Request) -> Response:
    state: ManagementState = request.app.state.sandbox.management
    early = await _misbehave(request, state) or _refusal(request, state)
    if early is not None:
        return early
    by_customer = None if state.ignore_filters else request.query_params.get("customer_email")
    items = state.licenses(by_customer)  # narrowed case-insensitively; the filter is exact
    for name, value in request.query_params.items():
        check = None if state.ignore_filters else _LICENSE_FILTERS.get(name)
        if check is not None:  # anything else is ignored, as django-filter does
            items = [lic for lic in items if check(lic, value)]
    return _page(request, items)


async def license_users(request: Request) -> Response:
    state: ManagementState = request.app.state.sandbox.management
    early = await _misbehave(request, state) or _refusal(request, state)
    if early is not None:
        return early
    users: dict[str, dict[str, Any]] = {}
    for lic in state.licenses():
        for user in lic["license_users"]:
            entry = users.setdefault(
                _lower(user["true_email"]),
                {**user, "is_manager": False, "phone_number": "", "total_licenses": 0},
            )
            entry["total_licenses"] += 1
            entry["customer_accounts"] = []
    items = list(users.values())
    for name, value in request.query_params.items():
        check = _USER_FILTERS.get(name)
        if check is not None:
            items = [user for user in items if check(user, value)]
    return _page(request, items)
