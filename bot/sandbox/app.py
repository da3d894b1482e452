"""The sandbox License API: a real HTTP server with the real service's checks and error codes.

Like stripe-mock for Stripe: demo mode, tests and benchmarks talk to it over loopback. It
checks the HMAC signature and OAuth tokens as LicenseSpring does, answers from seeded data,
counts what it served and can be told to misbehave (latency, errors, malformed answers,
dropped connections) through `SandboxState` or the `/_sandbox/` control endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.licensespring.auth import sign
from bot.sandbox import management, seed
from bot.sandbox.faults import Fault, failure_response
from bot.sandbox.seed import Body
from bot.sandbox.webhooks import DEFAULT_HEADER, WebhookSender, WebhookTarget

LOOKUP_PATH = "/api/v4/customer_license_users"
OAUTH_PATH = "/oauth/token"
CONTROL_PREFIX = "/_sandbox/"
MAX_DATE_SKEW_S = 15 * 60
FLOOD_LIMIT_PER_S = 50  # per credential, as LicenseSpring enforces; 0 turns it off
DEFAULT_TOKEN_TTL_S = 480

_AUTHORIZATION_FORMAT = re.compile(r'\s*\w+\s*=\s*"[^"]*"\s*(?:,\s*\w+\s*=\s*"[^"]*"\s*)*')
_AUTHORIZATION_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_HMAC_PARAMS = ("algorithm", "headers", "signature", "apikey")


class ApiRejection(Exception):
    """A request the real service would refuse, with its documented error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        body = {"status": self.status, "code": self.code, "message": self.message}
        return JSONResponse(body, status_code=self.status)


def _encode(body: Body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class SandboxState:
    """The sandbox's data, faults, counters and OAuth tokens.

    Tests drive it from another thread than the server's event loop, so every change that
    spans more than one attribute happens under a lock (never held across an await).
    """

    def __init__(
        self,
        customers: dict[str, dict[str, Body]] | None = None,
        *,
        lazy_customers: dict[str, dict[str, Callable[[], Body]]] | None = None,
        key_products: frozenset[str] = seed.KEY_PRODUCTS,
    ) -> None:
        if customers is None:
            customers = seed.seed_customers()
            lazy_customers = seed.lazy_customers() if lazy_customers is None else lazy_customers
        self._customers = customers
        self._lazy = lazy_customers or {}
        for product in self._lazy:
            self._customers.setdefault(product, {})
        self.key_products = key_products
        self.api_key = seed.SANDBOX_API_KEY
        self.shared_key = seed.SANDBOX_SHARED_KEY
        self.client_id = seed.SANDBOX_CLIENT_ID
        self.client_secret = seed.SANDBOX_CLIENT_SECRET
        self.token_ttl = DEFAULT_TOKEN_TTL_S
        self.base_latency_ms = 0
        self.tokens: dict[str, float] = {}
        self._encoded: dict[tuple[str, str], bytes] = {}
        self._fault: Fault | None = None
        self._fault_failures_left: int | None = None
        self._lock = threading.Lock()
        self.in_flight = 0  # requests being answered now (tests wait for 0 between cases)
        self.flood_limit = FLOOD_LIMIT_PER_S
        self.webhooks = WebhookSender()
        self.management = management.ManagementState(self._built_customers)
        self.reset_counters()

    # --- data -------------------------------------------------------------------------

    def set_users(
        self,
        product: str,
        email: str,
        users: list[dict[str, Any]],
        customer: dict[str, Any] | None = None,
    ) -> None:
        """Create or replace a customer's answer; without `customer`, keep the current one."""
        key = email.lower()
        with self._lock:
            customers = self._customers.setdefault(product, {})
            if customer is None:
                current = customers.get(key)
                customer = current["customer"] if current else seed.customer_record(email)
            customers[key] = copy.deepcopy({"customer": customer, "users": users})
            self._lazy.get(product, {}).pop(key, None)
            self._encoded.pop((product, key), None)

    def add_user(self, product: str, email: str, user: dict[str, Any]) -> dict[str, Any]:
        """Assign a new license user to the customer (on its first license); the stored user."""
        key = email.lower()
        with self._lock:
            body = self._body_locked(product, key)
            if body is None:
                raise ApiRejection(404, "customer_does_not_exist", "no such customer")
            if any(u["email"].lower() == str(user["email"]).lower() for u in body["users"]):
                raise ApiRejection(409, "validation_error", "the user already exists")
            if body["users"]:
                user = {**user, "license_id": body["users"][0]["license_id"]}
            body["users"].append(copy.deepcopy(user))
            self._encoded.pop((product, key), None)
            return copy.deepcopy(user)

    def update_user(
        self, product: str, email: str, user_email: str, changes: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Change one user's fields; the user before and after."""
        key = email.lower()
        with self._lock:
            body = self._body_locked(product, key)
            if body is None:
                raise ApiRejection(404, "customer_does_not_exist", "no such customer")
            for index, user in enumerate(body["users"]):
                if user["email"].lower() == user_email.lower():
                    before = copy.deepcopy(user)
                    body["users"][index] = {**user, **changes}
                    self._encoded.pop((product, key), None)
                    return before, copy.deepcopy(body["users"][index])
            raise ApiRejection(404, "not_found", "no such license user")

    def _built_customers(self) -> dict[str, dict[str, Body]]:
        """product -> e-mail -> answer, for the customers built so far (lazy ones excluded)."""
        with self._lock:
            return {product: dict(customers) for product, customers in self._customers.items()}

    def body(self, product: str, email: str) -> Body | None:
        """The stored answer for a customer (building a lazy one), or None."""
        key = email.lower()
        with self._lock:
            return self._body_locked(product, key)

    def _body_locked(self, product: str, key: str) -> Body | None:
        customers = self._customers.get(product, {})
        if key not in customers:
            build = self._lazy.get(product, {}).pop(key, None)
            if build is None:
                return None
            customers[key] = build()
        return customers[key]

    def answer(self, product: str, email: str) -> bytes:
        """The encoded answer body, after the real service's product and customer checks."""
        if product not in self._customers and product not in self.key_products:
            raise ApiRejection(400, "unknown_product", "Provided product was not found")
        if product in self.key_products:
            raise ApiRejection(
                400,
                "invalid_product_auth_method",
                f"Product authorization method is invalid: {product}",
            )
        key = email.lower()
        with self._lock:
            self.lookups += 1
            self.lookup_times.append(time.time())
            self.lookups_by_customer[(product, key)] += 1
            encoded = self._encoded.get((product, key))
            if encoded is None:
                body = self._body_locked(product, key)
                if body is None:
                    raise ApiRejection(
                        400, "customer_does_not_exist", "Customer with this email does not exist"
                    )
                encoded = self._encoded[(product, key)] = _encode(body)
        return encoded

    # --- faults -----------------------------------------------------------------------

    @property
    def fault(self) -> Fault | None:
        return self._fault

    def set_fault(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """Replace the active fault: pass a Fault, or its fields (see `Fault`)."""
        new_fault = fault if fault is not None else Fault(**fields)
        with self._lock:
            self._fault = new_fault
            self._fault_failures_left = new_fault.times
        return new_fault

    def clear_faults(self) -> None:
        with self._lock:
            self._fault = None
            self._fault_failures_left = None

    def drip_s(self, customer: str) -> float:
        fault = self._fault
        return fault.drip_ms / 1000 if fault is not None and fault.matches(customer) else 0.0

    def latency_s(self, customer: str) -> float:
        fault = self._fault
        extra = fault.latency_ms if fault is not None and fault.matches(customer) else 0
        return (self.base_latency_ms + extra) / 1000

    def take_failure(self, customer: str) -> Fault | None:
        """The fault this request must fail with, using up one of its `times`; else None."""
        with self._lock:
            fault = self._fault
            if fault is None or not fault.fails or not fault.matches(customer):
                return None
            if self._fault_failures_left is not None:
                if self._fault_failures_left <= 0:
                    return None
                self._fault_failures_left -= 1
            self.faulted += 1
            return fault

    # --- OAuth ------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.tokens_issued += 1
        return token

    def token_expired(self, token: str) -> bool | None:
        """True or False for a token this sandbox issued, None for an unknown one."""
        expires_at = self.tokens.get(token)
        return None if expires_at is None else time.monotonic() >= expires_at

    def expire_tokens(self) -> int:
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = float("-inf")
            return len(self.tokens)

    # --- counters ---------------------------------------------------------------------

    def count_request(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1

    def count_token_request(self) -> None:
        with self._lock:
            self.token_requests += 1

    def reset_counters(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.lookups = 0
            self.lookup_times: deque[float] = deque(maxlen=100_000)
            self.lookups_by_customer: Counter[tuple[str, str]] = Counter()
            self.token_requests = 0
            self.tokens_issued = 0
            self.faulted = 0
            self.rate_limited = 0
            self._flood: Counter[tuple[str, int]] = Counter()

    def over_flood_limit(self, credential: str, now: float) -> bool:
        """LicenseSpring's flood limit: at most `flood_limit` requests a second per credential."""
        if self.flood_limit <= 0:
            return False
        second = int(now)
        with self._lock:
            if len(self._flood) > 1000:
                self._flood = Counter({k: v for k, v in self._flood.items() if k[1] >= second})
            self._flood[(credential, second)] += 1
            if self._flood[(credential, second)] <= self.flood_limit:
                return False
            self.rate_limited += 1
            return True

    def reset(self) -> None:
        """Counters, faults and the webhook target back to the start (data and tokens stay)."""
        self.reset_counters()
        self.clear_faults()
        self.webhooks.target = None
        self.webhooks.reset_counters()
        self.management.reset()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_customer: dict[str, dict[str, int]] = {}
            for (product, email), count in self.lookups_by_customer.items():
                by_customer.setdefault(product, {})[email] = count
            fault = self._fault
            return {
                "requests": dict(self.requests),
                "requests_total": self.requests.total(),
                "lookups": self.lookups,
                "lookups_by_customer": by_customer,
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "faulted": self.faulted,
                "rate_limited": self.rate_limited,
                "fault": fault.to_json() if fault is not None else None,
                "fault_failures_left": self._fault_failures_left,
                "base_latency_ms": self.base_latency_ms,
                "webhooks": self.webhooks.stats(),
            }


# --- request checks -------------------------------------------------------------------


def _require_fresh_date(date: str) -> None:
    try:
        sent = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        sent = None
    if sent is not None and sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if sent is None or abs(sent.timestamp() - time.time()) > MAX_DATE_SKEW_S:
        raise ApiRejection(400, "date_header_diff", "Date header is too far from server time")


def _check_bearer(state: SandboxState, token: str) -> None:
    expired = state.token_expired(token)
    if expired is None:
        raise ApiRejection(401, "oauth_token_malformed", "OAuth token is malformed")
    if expired:
        raise ApiRejection(401, "oauth_token_expired", "OAuth token has expired")


def _hmac_params(authorization: str) -> dict[str, str]:
    if not _AUTHORIZATION_FORMAT.fullmatch(authorization):
        raise ApiRejection(
            400, "authorization_invalid_headers", "Authorization header is not valid"
        )
    params = {name.lower(): value for name, value in _AUTHORIZATION_PARAM.findall(authorization)}
    if any(not params.get(name) for name in _HMAC_PARAMS):
        raise ApiRejection(
            400, "authorization_missing_params", "Authorization header is missing parameters"
        )
    if params["algorithm"].lower() != "hmac-sha256" or params["headers"].lower() != "date":
        raise ApiRejection(
            400, "authorization_invalid_headers", "Authorization header is not valid"
        )
    return params


def _credential(headers: Headers) -> str:
    """What the flood limit counts per: the API key, or the bearer token."""
    authorization = headers.get("authorization", "")
    match = re.search(r'api[kK]ey="([^"]*)"', authorization)
    return match.group(1) if match else authorization


def _authorize(state: SandboxState, headers: Headers) -> None:
    """The real service's authorization checks, in its order."""
    date = headers.get("date")
    authorization = headers.get("authorization")
    if not date or not authorization:
        raise ApiRejection(400, "missing_headers", "Some headers are missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer":
        _check_bearer(state, token.strip())
        _require_fresh_date(date)
        return
    params = _hmac_params(authorization)
    if not hmac.compare_digest(params["apikey"], state.api_key):
        raise ApiRejection(400, "invalid_api_key", "Provided API key is not valid")
    _require_fresh_date(date)
    expected = sign(state.shared_key, date)
    if not hmac.compare_digest(params["signature"].encode(), expected.encode()):
        raise ApiRejection(401, "signature_mismatch", "Signature does not match")


def _lookup_params(query: QueryParams) -> tuple[str, str]:
    product = query.get("product", "").strip()
    customer = query.get("customer", "").strip()
    if not product or not customer:
        raise ApiRejection(
            400, "missing_parameters", "Parameters product and customer are required"
        )
    return product, customer


# --- endpoints ------------------------------------------------------------------------


def _sandbox(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def customer_license_users(request: Request) -> Response:
    state = _sandbox(request)
    customer = request.query_params.get("customer", "")
    delay = state.latency_s(customer)
    if delay > 0 and not await _sleep_unless_disconnected(request, delay):
        return Response(status_code=499)  # the client gave up; nobody reads this
    fault = state.take_failure(customer)
    if fault is not None:
        return failure_response(fault)
    if state.over_flood_limit(_credential(request.headers), time.time()):
        return JSONResponse(
            {"status": 429, "code": "too_many_requests", "message": "Flood limit exceeded"},
            status_code=429,
            headers={"Retry-After": "1"},
        )
    try:
        _authorize(state, request.headers)
        product, email = _lookup_params(request.query_params)
        body = state.answer(product, email)
    except ApiRejection as rejection:
        return rejection.response()
    drip = state.drip_s(customer)
    if drip > 0:
        return StreamingResponse(_dripped(body, drip), media_type="application/json")
    return Response(body, media_type="application/json")


_DRIP_CHUNK_BYTES = 8
_DISCONNECT_POLL_S = 0.05


async def _sleep_unless_disconnected(request: Request, delay: float) -> bool:
    """Sleep `delay` seconds; False as soon as the client hangs up (a hang must not linger)."""
    deadline = time.monotonic() + delay
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(left, _DISCONNECT_POLL_S))
        if await request.is_disconnected():
            return False
    return True


async def _dripped(body: bytes, every_s: float) -> AsyncIterator[bytes]:
    for start in range(0, len(body), _DRIP_CHUNK_BYTES):
        yield body[start : start + _DRIP_CHUNK_BYTES]
        await asyncio.sleep(every_s)


async def oauth_token(request: Request) -> Response:
    state = _sandbox(request)
    state.count_token_request()
    form = parse_qs((await request.body()).decode("utf-8", "replace"))

    def field(name: str) -> str:
        return form.get(name, [""])[0]

    if field("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    client_ok = hmac.compare_digest(field("client_id").encode(), state.client_id.encode())
    secret_ok = hmac.compare_digest(field("client_secret").encode(), state.client_secret.encode())
    if not (client_ok and secret_ok):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    return JSONResponse(
        {"access_token": state.issue_token(), "expires_in": state.token_ttl, "token_type": "Bearer"}
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def control_stats(request: Request) -> Response:
    return JSONResponse(_sandbox(request).stats())


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiRejection(400, "validation_error", "the body is not JSON") from exc


async def control_lookup_times(request: Request) -> Response:
    """When each lookup was served (epoch seconds, the last 100,000): for rate figures."""
    state = _sandbox(request)
    with state._lock:
        times = list(state.lookup_times)
    return JSONResponse({"times": times})


async def control_set_fault(request: Request) -> Response:
    try:
        fault = Fault.from_json(await _json_body(request))
    except ApiRejection as rejection:
        return rejection.response()
    except (ValueError, TypeError) as exc:
        return ApiRejection(400, "validation_error", str(exc)).response()
    _sandbox(request).set_fault(fault)
    return JSONResponse({"fault": fault.to_json()})


async def control_set_management_fault(request: Request) -> Response:
    try:
        fault = Fault.from_json(await _json_body(request))
    except ApiRejection as rejection:
        return rejection.response()
    except (ValueError, TypeError) as exc:
        return ApiRejection(400, "validation_error", str(exc)).response()
    _sandbox(request).management.set_fault(fault)
    return JSONResponse({"fault": fault.to_json()})


async def control_clear_management_fault(request: Request) -> Response:
    _sandbox(request).management.clear_fault()
    return JSONResponse({"fault": None})


async def control_clear_faults(request: Request) -> Response:
    _sandbox(request).clear_faults()
    return JSONResponse({"fault": None})


async def control_reset(request: Request) -> Response:
    _sandbox(request).reset()
    return JSONResponse({"reset": True})


async def control_expire_tokens(request: Request) -> Response:
    return JSONResponse({"expired": _sandbox(request).expire_tokens()})


async def control_put_customer(request: Request) -> Response:
    product = request.path_params["product"]
    email = request.path_params["email"]
    try:
        payload = await _json_body(request)
        users, customer = _customer_payload(payload)
    except ApiRejection as rejection:
        return rejection.response()
    state = _sandbox(request)
    state.set_users(product, email, users, customer)
    stored = state.body(product, email) or {}
    state.webhooks.send("customer.updated", {"customer": dict(stored.get("customer") or {})})
    return JSONResponse({"product": product, "email": email.lower(), "users": len(users)})


_USER_FIELDS: dict[str, type] = {
    "first_name": str,
    "last_name": str,
    "is_active": bool,
    "max_activations": int,
    "total_activations": int,
}


def _user_changes(payload: object, *, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise ApiRejection(400, "validation_error", "expected a JSON object")
    changes: dict[str, Any] = {}
    for name, value in payload.items():
        kind = _USER_FIELDS.get(name) if name in allowed else None
        if kind is None:
            raise ApiRejection(400, "validation_error", f"unknown field {name!r}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiRejection(400, "validation_error", f"{name} must be {kind.__name__}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ApiRejection(400, "validation_error", f"{name} must be >= 0")
        changes[name] = value
    return changes


def _license_data(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user.get("license_id"),
        "max_activations": user.get("max_activations"),
        "times_activated": user.get("total_activations"),
        "enabled": True,
        "active": True,
    }


def _license_user_data(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "email": user.get("email"),
        "first_name": user.get("first_name"),
        "last_name": user.get("last_name"),
        "is_active": user.get("is_active"),
    }


async def control_add_user(request: Request) -> Response:
    """Assign a license user (`{"email": ..., ...}`); sends license.license_user.assigned."""
    product, email = request.path_params["product"], request.path_params["email"]
    state = _sandbox(request)
    try:
        payload = await _json_body(request)
        if not isinstance(payload, Mapping) or not isinstance(payload.get("email"), str):
            raise ApiRejection(400, "validation_error", "expected an object with an email")
        user_email = str(payload["email"])
        fields = _user_changes(
            {k: v for k, v in payload.items() if k != "email"}, allowed=set(_USER_FIELDS)
        )
        user = seed.license_user(
            user_email,
            fields.get("first_name", ""),
            fields.get("last_name", ""),
            active=fields.get("is_active", True),
            max_activations=fields.get("max_activations", 1),
            total_activations=fields.get("total_activations", 0),
        )
        stored = state.add_user(product, email, user)
    except ApiRejection as rejection:
        return rejection.response()
    event_id = state.webhooks.send(
        "license.license_user.assigned",
        {"license": _license_data(stored), "license_user": _license_user_data(stored)},
    )
    return JSONResponse({"user": user_email.lower(), "webhook": event_id})


async def control_update_user(request: Request) -> Response:
    """Change a user's activations or active flag; sends the matching license event."""
    product, email = request.path_params["product"], request.path_params["email"]
    user_email = request.path_params["user"]
    state = _sandbox(request)
    try:
        changes = _user_changes(
            await _json_body(request), allowed={"total_activations", "is_active"}
        )
        if not changes:
            raise ApiRejection(400, "validation_error", "nothing to change")
        before, after = state.update_user(product, email, user_email, changes)
    except ApiRejection as rejection:
        return rejection.response()
    events: list[str | None] = []
    used_before, used_after = before["total_activations"], after["total_activations"]
    if used_after != used_before:
        code = "license.activated" if used_after > used_before else "license.deactivated"
        data: dict[str, Any] = {
            "license": _license_data(after),
            "device": {"id": 1, "hardware_id": f"sandbox-{used_after}"},
        }
        if code == "license.activated":
            data["license_user"] = _license_user_data(after)
        events.append(state.webhooks.send(code, data))
    if after["is_active"] != before["is_active"]:
        events.append(state.webhooks.send("license.updated", {"license": _license_data(after)}))
    return JSONResponse({"user": user_email.lower(), "webhooks": [e for e in events if e]})


async def control_set_webhooks(request: Request) -> Response:
    """`{"url": ..., "secret": ..., "header"?: ...}` sets the target; `{"url": null}` clears it."""
    state = _sandbox(request)
    try:
        payload = await _json_body(request)
        if not isinstance(payload, Mapping):
            raise ApiRejection(400, "validation_error", "expected a JSON object")
        url, secret = payload.get("url"), payload.get("secret")
        header = payload.get("header", DEFAULT_HEADER)
        if url is None:
            state.webhooks.target = None
            return JSONResponse({"webhooks": None})
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiRejection(400, "validation_error", "url must be an http(s) URL")
        if not isinstance(secret, str) or not secret or not isinstance(header, str):
            raise ApiRejection(400, "validation_error", "secret must be a non-empty string")
    except ApiRejection as rejection:
        return rejection.response()
    state.webhooks.target = WebhookTarget(url, secret, header)
    return JSONResponse({"webhooks": url})


def _customer_payload(payload: object) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if not isinstance(payload, Mapping):
        raise ApiRejection(400, "validation_error", "expected a JSON object")
    users = payload.get("users")
    customer = payload.get("customer")
    if not isinstance(users, list) or not all(isinstance(user, dict) for user in users):
        raise ApiRejection(400, "validation_error", "users must be a list of objects")
    if customer is not None and not isinstance(customer, dict):
        raise ApiRejection(400, "validation_error", "customer must be an object")
    return users, customer


class _CountRequests:
    """Counts every request per path, faulted ones included; control hooks are not counted."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        self.state.count_request(scope["path"])
        self.state.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.in_flight -= 1


def create_sandbox_app(
    state: SandboxState | None = None,
    *,
    token_ttl: int = DEFAULT_TOKEN_TTL_S,
    latency_ms: int = 0,
    webhooks: WebhookTarget | None = None,
) -> Starlette:
    """The sandbox as an ASGI app; its state is `app.state.sandbox`.

    `latency_ms` delays every lookup for the app's life; faults and resets do not clear it.
    """
    state = state if state is not None else SandboxState()
    state.token_ttl = token_ttl
    state.base_latency_ms = latency_ms
    if webhooks is not None:
        state.webhooks.target = webhooks
    routes = [
        Route(LOOKUP_PATH, customer_license_users, methods=["GET"]),
        Route(OAUTH_PATH, oauth_token, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_sandbox/stats", control_stats, methods=["GET"]),
        Route("/_sandbox/lookup_times", control_lookup_times, methods=["GET"]),
        Route("/_sandbox/faults", control_set_fault, methods=["POST"]),
        Route("/_sandbox/faults", control_clear_faults, methods=["DELETE"]),
        Route("/_sandbox/reset", control_reset, methods=["POST"]),
        Route("/_sandbox/oauth/expire", control_expire_tokens, methods=["POST"]),
        Route("/_sandbox/customers/{product}/{email}", control_put_customer, methods=["PUT"]),
        Route("/_sandbox/customers/{product}/{email}/users", control_add_user, methods=["POST"]),
        Route(
            "/_sandbox/customers/{product}/{email}/users/{user}",
            control_update_user,
            methods=["PATCH"],
        ),
        Route("/_sandbox/webhooks", control_set_webhooks, methods=["POST"]),
        Route(management.LICENSES_PATH, management.licenses, methods=["GET"]),
        Route(management.LICENSE_USERS_PATH, management.license_users, methods=["GET"]),
        Route("/_sandbox/management/faults", control_set_management_fault, methods=["POST"]),
        Route("/_sandbox/management/faults", control_clear_management_fault, methods=["DELETE"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.webhooks.aclose()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(_CountRequests, state=state)],
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app


_SAMPLE_CUSTOMERS = (
    (seed.TYPICAL, "8 users, a typical mix (also in acme-cli); 8 / 15 seats, 1 license full"),
    (seed.AT_LIMIT, "users at their activation limit"),
    (seed.INITIAL_PASSWORD, "users who never changed the initial password"),
    (seed.EMPTY, "a customer with no users"),
    (seed.MISCHIEF, "Slack control sequences in names"),
    (seed.BIG, f"{seed.BIG_USER_COUNT:,} users"),
    (seed.HUGE, f"{seed.HUGE_USER_COUNT:,} users, built on first request"),
)


_SAMPLE_LICENSE_USERS = (
    (seed.LICENSE_USER, f"a license user of Acme Ltd ({seed.ACME})"),
    (seed.SHARED_USER, "a license user of two customers"),
)


def startup_banner(url: str) -> str:
    """What `run_sandbox` prints: where it listens and the demo credentials (none secret)."""
    lines = [
        f"LicenseSpring sandbox listening on {url}",
        "",
        "Demo settings (paste into .env):",
        f"LICENSESPRING_API_URL={url}",
        f"LICENSESPRING_API_KEY={seed.SANDBOX_API_KEY}",
        f"LICENSESPRING_SHARED_KEY={seed.SANDBOX_SHARED_KEY}",
        f"LICENSESPRING_CLIENT_ID={seed.SANDBOX_CLIENT_ID}",
        f"LICENSESPRING_CLIENT_SECRET={seed.SANDBOX_CLIENT_SECRET}",
        f"LICENSESPRING_OAUTH_URL={url}{OAUTH_PATH}",
        f"LICENSESPRING_MANAGEMENT_API_URL={url}",
        f"LICENSESPRING_MANAGEMENT_API_KEY={seed.SANDBOX_MANAGEMENT_API_KEY}",
        "",
        f"Products: {', '.join(seed.USER_PRODUCTS)} (user-based), {seed.KEY_PRODUCT} (key-based)",
        "Sample customers of acme-desktop:",
        *(f"  {email:<28} {description}" for email, description in _SAMPLE_CUSTOMERS),
        "License users (found with the management key):",
        *(f"  {email:<28} {description}" for email, description in _SAMPLE_LICENSE_USERS),
    ]
    return "\n".join(lines)


def _display_host(host: str) -> str:
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - only mapping a wildcard to a reachable name
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """Bound and listening before the URL is printed, so an eager client waits, not fails.

    Created with IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections
    only for such sockets, and without it every answer on a kept-alive connection waits
    about 40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def run_sandbox(
    host: str, port: int, *, latency_ms: int = 0, webhooks: WebhookTarget | None = None
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM; port 0 picks a free port (the banner shows it)."""
    app = create_sandbox_app(latency_ms=latency_ms, webhooks=webhooks)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    sock = _listening_socket(host, port, config.backlog)
    bound_port = int(sock.getsockname()[1])
    print(startup_banner(f"http://{_display_host(host)}:{bound_port}"), flush=True)
    if webhooks is not None:
        print(f"Sending webhooks to {webhooks.url} (header {webhooks.header})", flush=True)
    # After a graceful shutdown uvicorn raises the caught signal again: SIGINT arrives here
    # as KeyboardInterrupt (a normal return), SIGTERM ends the process as the signal would.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
