"""The License API client: signed requests, retries, rate limiting, single-flight, cache."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
import structlog

from bot.config import Settings
from bot.licensespring.auth import Authenticator, HmacAuth, OAuthClientCredentials
from bot.licensespring.cache import SingleFlight, TTLCache
from bot.licensespring.errors import (
    CONNECTION_ERROR,
    NOT_CONFIGURED,
    RATE_LIMITED,
    TIMEOUT,
    UNEXPECTED_RESPONSE,
    LicenseApiError,
)
from bot.licensespring.models import (
    CustomerLicenseUsers,
    MalformedBody,
    parse_customer_license_users,
)
from bot.licensespring.ratelimit import RateLimiter, SharedRateLimiter

CUSTOMER_LICENSE_USERS_PATH = "/api/v4/customer_license_users"
_PARSE_OFF_LOOP_BYTES = 256 * 1024
_JOINER_GRACE_S = 0.05
OAUTH_REFRESH_CODES = frozenset({"oauth_token_expired", "oauth_token_malformed"})

log = structlog.get_logger("licensespring")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ClientOptions:
    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_retries: int = 2
    rate_limit: float = 20.0
    cache_ttl: float = 30.0
    cache_max_mb: float = 64.0  # the cached answers' body sizes, summed
    total_timeout: float = 30.0  # no lookup, retries included, runs longer than this
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = 20.0
    max_body_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientOptions:
        return cls(
            base_url=settings.licensespring_api_url.rstrip("/"),
            connect_timeout=settings.licensespring_connect_timeout,
            read_timeout=settings.licensespring_read_timeout,
            max_retries=settings.licensespring_max_retries,
            rate_limit=settings.licensespring_rate_limit,
            cache_ttl=settings.licensespring_cache_ttl,
            cache_max_mb=settings.licensespring_cache_max_mb,
        )


@dataclass(slots=True)
class ClientStats:
    upstream_requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    coalesced: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One answer and how it was obtained."""

    answer: CustomerLicenseUsers
    upstream_ms: float  # 0.0 for a cache hit
    cached: bool
    # Wall-clock time the answering request was sent (after any rate-limit wait): the answer
    # reflects every change made before it. 0.0 when unknown (a cache hit).
    sent_at: float = 0.0
    body_bytes: int = 0  # the answer's body size (0 for a cache hit): what the cache counts


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_from_response(response: httpx.Response, body: bytes) -> LicenseApiError:
    status = response.status_code
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("code"), str):
        message = payload.get("message")
        return LicenseApiError(status, payload["code"], str(message) if message else "")
    if status == 429:
        return LicenseApiError(status, RATE_LIMITED, "too many requests")
    content_type = response.headers.get("content-type", "unknown").split(";")[0]
    return LicenseApiError(status, UNEXPECTED_RESPONSE, f"HTTP {status} with a {content_type} body")


class LicenseApiClient:
    """Async client for `GET /api/v4/customer_license_users`.

    One instance per process, opened and closed with the app (`async with`).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Authenticator | None,
        options: ClientOptions,
        *,
        limiter: RateLimiter | SharedRateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._auth = auth
        self.options = options
        self.limiter = limiter or RateLimiter(options.rate_limit)
        self._sleep = sleep
        self._cache: TTLCache[tuple[str, str], CustomerLicenseUsers] = TTLCache(
            options.cache_ttl, max_bytes=int(options.cache_max_mb * 2**20)
        )
        self._flights: SingleFlight[tuple[str, str], Lookup] = SingleFlight()
        self.stats = ClientStats()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | SharedRateLimiter | None = None,
    ) -> LicenseApiClient:
        options = ClientOptions.from_settings(settings)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                options.read_timeout, connect=options.connect_timeout, pool=options.connect_timeout
            ),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            headers={"Accept": "application/json", "User-Agent": "license-users-bot"},
            transport=transport,
        )
        return cls(http, _authenticator(settings, http), options, limiter=limiter)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def configured(self) -> bool:
        return self._auth is not None

    async def customer_license_users(
        self, product: str, customer: str, *, fresh: bool = False, deadline_s: float | None = None
    ) -> CustomerLicenseUsers:
        return (await self.lookup(product, customer, fresh=fresh, deadline_s=deadline_s)).answer

    async def lookup(
        self, product: str, customer: str, *, fresh: bool = False, deadline_s: float | None = None
    ) -> Lookup:
        """The answer for one product + customer e-mail, sharing work where possible.

        `fresh` skips the cache (the alert poller wants current data) but still joins an
        identical request already in flight. `deadline_s` is this caller's deadline in seconds,
        retries, rate-limit waits and slow answers included (default: `total_timeout`); past
        it the lookup fails with `timeout`. A request this caller started ends by then too;
        one it joined goes on for its starter, and its answer still fills the cache.
        """
        product = product.strip()
        customer = customer.strip()
        key = (product, customer.casefold())
        if not fresh:
            cached = self._cache.get(key)
            if cached is not None:
                self.stats.cache_hits += 1
                return Lookup(cached, 0.0, cached=True)
        if self._flights.is_running(key):
            self.stats.coalesced += 1
        budget = self.options.total_timeout if deadline_s is None else deadline_s
        deadline = time.monotonic() + budget
        try:
            # The request ends at its starter's deadline (see `_fetch`); this bounds the wait
            # of a caller that joined a request started with a longer deadline.
            async with asyncio.timeout_at(_loop_time(deadline + _JOINER_GRACE_S)):
                result = await self._flights.run(
                    key, lambda: self._fetch(product, customer, deadline, budget)
                )
        except TimeoutError:
            raise self._timed_out(budget) from None
        self._cache.put(key, result.answer, result.body_bytes)
        return result

    async def _fetch(self, product: str, customer: str, deadline: float, budget: float) -> Lookup:
        if self._auth is None:
            raise LicenseApiError(0, NOT_CONFIGURED, "no LicenseSpring credentials configured")
        try:
            # Nothing outlives the deadline: not a hang, not a slow drip, not a retry's wait.
            async with asyncio.timeout_at(_loop_time(deadline)):
                return await self._attempts(product, customer, deadline)
        except TimeoutError:
            raise self._timed_out(budget) from None

    def _timed_out(self, budget: float) -> LicenseApiError:
        error = LicenseApiError(0, TIMEOUT, f"no answer within {budget:g} s")
        self._count_error(error)
        return error

    async def _attempts(self, product: str, customer: str, deadline: float) -> Lookup:
        """Requests until one answers, a retry would not fit before `deadline`, or none are left."""
        assert self._auth is not None
        started = time.monotonic()
        refreshed_token = False
        attempt = 0
        while True:
            await self.limiter.acquire()
            sent_at = time.time()
            try:
                answer, size = await self._request_once(product, customer)
                elapsed_ms = (time.monotonic() - started) * 1000
                return Lookup(answer, elapsed_ms, cached=False, sent_at=sent_at, body_bytes=size)
            except _Retryable as retryable:
                error, delay = retryable.error, retryable.delay
                if error.code in OAUTH_REFRESH_CODES:
                    if refreshed_token:
                        self._count_error(error)
                        raise error from None
                    refreshed_token = True
                    continue
                if attempt >= self.options.max_retries:
                    self._count_error(error)
                    raise error from None
                delay = delay if delay is not None else self._backoff(attempt)
                if time.monotonic() + delay > deadline:
                    self._count_error(error)
                    raise error from None
                attempt += 1
                self.stats.retries += 1
                log.info(
                    "licensespring_retry",
                    product=product,
                    code=error.code,
                    status=error.status,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                )
                await self._sleep(delay)
            except LicenseApiError as error:
                self._count_error(error)
                raise

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.options.backoff_max, self.options.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    def _count_error(self, error: LicenseApiError) -> None:
        counts = self.stats.errors_by_code
        counts[error.code] = counts.get(error.code, 0) + 1

    async def _request_once(self, product: str, customer: str) -> tuple[CustomerLicenseUsers, int]:
        """The parsed answer and its body's size in bytes."""
        assert self._auth is not None
        headers = await self._auth.headers()  # fresh Date on every attempt
        headers["Accept"] = "application/json"
        self.stats.upstream_requests += 1
        started = time.monotonic()
        try:
            async with self._http.stream(
                "GET",
                self.options.base_url + CUSTOMER_LICENSE_USERS_PATH,
                params={"product": product, "customer": customer},
                headers=headers,
            ) as response:
                body = await self._read_body(response)
        except httpx.TimeoutException:
            raise _Retryable(LicenseApiError(0, TIMEOUT, "no answer in time")) from None
        except httpx.TransportError as exc:
            raise _Retryable(LicenseApiError(0, CONNECTION_ERROR, type(exc).__name__)) from None
        log.debug(
            "licensespring_response",
            product=product,
            status=response.status_code,
            upstream_ms=round((time.monotonic() - started) * 1000, 1),
            bytes=len(body),
        )
        if response.status_code == 200:
            try:
                if len(body) < _PARSE_OFF_LOOP_BYTES:
                    return parse_customer_license_users(body), len(body)
                # Big answers take 10-200 ms to parse: let the event loop keep acking meanwhile.
                return await asyncio.to_thread(parse_customer_license_users, body), len(body)
            except MalformedBody as exc:
                raise LicenseApiError(200, UNEXPECTED_RESPONSE, str(exc)) from None
        error = _error_from_response(response, body)
        if error.code in OAUTH_REFRESH_CODES:
            await self._auth.invalidate(headers["Authorization"])
            raise _Retryable(error)
        if response.status_code == 429:
            retry_after = _retry_after_seconds(response)
            if retry_after is not None and retry_after > self.options.max_retry_after:
                raise error
            raise _Retryable(error, retry_after)
        if response.status_code >= 500:
            raise _Retryable(error, _retry_after_seconds(response))
        raise error

    async def _read_body(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.options.max_body_bytes:
            raise LicenseApiError(
                response.status_code, UNEXPECTED_RESPONSE, "answer too large to read"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.options.max_body_bytes:
                    raise LicenseApiError(
                        response.status_code, UNEXPECTED_RESPONSE, "answer too large to read"
                    )
                chunks.append(chunk)
        except httpx.DecodingError:
            # A Content-Encoding the body does not match (bad gzip, say): as unreadable as bad
            # JSON, and not worth retrying at once either.
            raise LicenseApiError(
                response.status_code, UNEXPECTED_RESPONSE, "unreadable answer"
            ) from None
        return b"".join(chunks)


class _Retryable(Exception):
    def __init__(self, error: LicenseApiError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def _loop_time(deadline: float) -> float:
    """A `time.monotonic()` deadline on the event loop's clock (`asyncio.timeout_at`)."""
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())


def _authenticator(settings: Settings, http: httpx.AsyncClient) -> Authenticator | None:
    # OAuth wins when both are configured: a vendor that set it up may have made it mandatory.
    if settings.licensespring_client_id and settings.licensespring_client_secret:
        return OAuthClientCredentials(
            http,
            settings.licensespring_oauth_url,
            settings.licensespring_client_id,
            settings.licensespring_client_secret.get_secret_value(),
        )
    if settings.licensespring_api_key and settings.licensespring_shared_key:
        return HmacAuth(
            settings.licensespring_api_key.get_secret_value(),
            settings.licensespring_shared_key.get_secret_value(),
        )
    return None
