"""The Management API client: `GET /api/v1/licenses/` with `Authorization: Api-Key <key>`.

Beside the License API client and with its discipline: per-attempt timeouts, one deadline per
call (retries and rate-limit waits included), retries of 429, 5xx and transport failures only
when they fit before the deadline, single-flight, a TTL cache and a rate limiter of its own
(LicenseSpring counts the Management API apart from the License API).

Unknown query parameters are ignored by the server, which then lists *everything*: only the
documented filters below may be sent, and an answer with a license the filter cannot match is
an error, never data.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
import structlog

from bot.config import Settings
from bot.licensespring.cache import SingleFlight, TTLCache
from bot.licensespring.client import _loop_time, _retry_after_seconds
from bot.licensespring.management_models import (
    LicensePage,
    MalformedList,
    ManagedLicense,
    parse_license_page,
)
from bot.licensespring.ratelimit import RateLimiter

LICENSES_PATH = "/api/v1/licenses/"
LICENSE_USERS_PATH = "/api/v1/license-users/"
PAGE_SIZE = 100  # `/licenses/` caps `limit` at 100
MAX_PAGES = 10  # 1,000 licenses: past that, one answer would spend too much of the budget
# The smallest plan allows 600 Management API requests a minute (10/s) per company. A burst
# of 5 lets one reverse lookup (its seats, the user's licenses, the customer's seats) go
# through without waiting; 50/s per key is LicenseSpring's flood limit, far above.
MANAGEMENT_RATE_PER_S = 8.0
MANAGEMENT_BURST = 5

DOCUMENTED_LICENSE_FILTERS = frozenset(
    {
        "license_users__true_email",
        "license_users__true_email__icontains",
        "customer_email",
        "customer_email__icontains",
        "product_short_code",
        "license_key",
        "order__store_id",
        "customer_id",
        "active",
        "enabled",
    }
)
PAGING_PARAMETERS = frozenset({"limit", "offset"})

# Codes of the client's errors (each has a sentence in `_SENTENCES`).
KEY_REFUSED = "management_key_refused"
NOT_FOUND = "management_not_found"
RATE_LIMITED = "management_rate_limited"
UNAVAILABLE = "management_unavailable"
TIMEOUT = "management_timeout"
CONNECTION_ERROR = "management_connection_error"
UNEXPECTED_RESPONSE = "management_unexpected_response"
FILTER_IGNORED = "management_filter_ignored"
NOT_CONFIGURED = "management_not_configured"

_SENTENCES = {
    KEY_REFUSED: (
        "The Management API refused the management key. Check LICENSESPRING_MANAGEMENT_API_KEY."
    ),
    NOT_FOUND: "The Management API answered 'not found'. Check LICENSESPRING_MANAGEMENT_API_URL.",
    RATE_LIMITED: "The Management API is rate limiting requests. Try again in a minute.",
    UNAVAILABLE: "The Management API had an internal error. Try again in a minute.",
    TIMEOUT: "The Management API did not answer in time. Try again in a minute.",
    CONNECTION_ERROR: "Could not reach the Management API. Try again in a minute.",
    UNEXPECTED_RESPONSE: "The Management API sent an answer the bot could not read.",
    FILTER_IGNORED: (
        "The Management API answered with licenses the filter cannot match, so the answer "
        "was not used. This is a bot or API bug; report it."
    ),
    NOT_CONFIGURED: "No management key is configured (LICENSESPRING_MANAGEMENT_API_KEY).",
}
_RETRYABLE = frozenset({RATE_LIMITED, UNAVAILABLE, TIMEOUT, CONNECTION_ERROR})

log = structlog.get_logger("licensespring.management")


class ManagementApiError(Exception):
    """A Management API call failed. `status` is the HTTP status (0 when there was no answer)."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"{code} ({status}): {detail}")
        self.status = status
        self.code = code
        self.detail = detail

    @property
    def sentence(self) -> str:
        return _SENTENCES.get(self.code, f"The Management API answered {self.code}.")


class UndocumentedFilter(ValueError):
    """A programming error: a query parameter the Management API does not document."""


@dataclass(frozen=True, slots=True)
class LicenseList:
    """The licenses a filter matched, read page by page up to `MAX_PAGES` pages."""

    licenses: tuple[ManagedLicense, ...]
    count: int  # the server's count of matches

    @property
    def complete(self) -> bool:
        return len(self.licenses) >= self.count


@dataclass(slots=True)
class ManagementStats:
    upstream_requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ManagementOptions:
    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_retries: int = 2
    rate_limit: float = MANAGEMENT_RATE_PER_S
    rate_burst: int = MANAGEMENT_BURST
    cache_ttl: float = 30.0
    total_timeout: float = 30.0
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ManagementOptions:
        return cls(
            base_url=settings.licensespring_management_api_url.rstrip("/"),
            connect_timeout=settings.licensespring_connect_timeout,
            read_timeout=settings.licensespring_read_timeout,
            max_retries=settings.licensespring_max_retries,
            cache_ttl=settings.licensespring_cache_ttl,
        )


Matches = Callable[[ManagedLicense], bool]
_CacheKey = tuple[tuple[str, str], ...]


class ManagementApiClient:
    """Async client for the Management API's license list. One per process (`async with`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str | None,
        options: ManagementOptions,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._api_key = api_key
        self.options = options
        self.limiter = limiter or RateLimiter(options.rate_limit, options.rate_burst)
        self._cache: TTLCache[_CacheKey, LicenseList] = TTLCache(options.cache_ttl)
        self._flights: SingleFlight[_CacheKey, LicenseList] = SingleFlight()
        self.stats = ManagementStats()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> ManagementApiClient:
        options = ManagementOptions.from_settings(settings)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                options.read_timeout, connect=options.connect_timeout, pool=options.connect_timeout
            ),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"Accept": "application/json", "User-Agent": "license-users-bot"},
            transport=transport,
        )
        key = settings.licensespring_management_api_key
        return cls(http, key.get_secret_value() if key is not None else None, options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def configured(self) -> bool:
        return self._api_key is not None

    # --- the questions the bot asks ---------------------------------------------------

    async def licenses_of_user(
        self, email: str, product: str, *, fresh: bool = False, deadline_s: float | None = None
    ) -> LicenseList:
        """The product's licenses that `email` is a license user of (any customer's)."""
        wanted = email.strip().casefold()
        return await self._by_address(
            "license_users__true_email",
            email,
            product,
            lambda lic: (
                _of_product(lic, product)
                and any(user.address.casefold() == wanted for user in lic.license_users)
            ),
            fresh=fresh,
            deadline_s=deadline_s,
        )

    async def licenses_of_customer(
        self, email: str, product: str, *, fresh: bool = False, deadline_s: float | None = None
    ) -> LicenseList:
        """The customer's licenses of the product (for seats)."""
        wanted = email.strip().casefold()
        return await self._by_address(
            "customer_email",
            email,
            product,
            lambda lic: _of_product(lic, product) and lic.customer.email.casefold() == wanted,
            fresh=fresh,
            deadline_s=deadline_s,
        )

    async def _by_address(
        self,
        name: str,
        email: str,
        product: str,
        matches: Matches,
        *,
        fresh: bool,
        deadline_s: float | None,
    ) -> LicenseList:
        """An exact e-mail filter: the address as given, then in lower case if that found none.

        Exact filters may compare case-sensitively (Django's do on PostgreSQL), and addresses
        are usually stored in lower case: `Jane@acme.example` then finds nothing as typed.
        """
        email, product = email.strip(), product.strip()
        started = time.monotonic()
        found = await self.licenses(
            {name: email, "product_short_code": product},
            matches,
            fresh=fresh,
            deadline_s=deadline_s,
        )
        lowered = email.lower()
        if found.licenses or lowered == email:
            return found
        left = None if deadline_s is None else max(0.0, deadline_s - (time.monotonic() - started))
        return await self.licenses(
            {name: lowered, "product_short_code": product}, matches, fresh=fresh, deadline_s=left
        )

    async def probe(self, *, deadline_s: float = 10.0) -> int:
        """One cheap authenticated request (one license); the number of licenses visible."""
        page = await self._call(
            {"limit": "1", "offset": "0"}, time.monotonic() + deadline_s, deadline_s
        )
        return page.count

    # --- the machinery ----------------------------------------------------------------

    async def licenses(
        self,
        filters: Mapping[str, str],
        matches: Matches,
        *,
        fresh: bool = False,
        deadline_s: float | None = None,
    ) -> LicenseList:
        """Every license matching `filters`, at most MAX_PAGES pages; `matches` checks each."""
        undocumented = set(filters) - DOCUMENTED_LICENSE_FILTERS
        if undocumented:
            raise UndocumentedFilter(f"undocumented filters: {sorted(undocumented)}")
        key: _CacheKey = tuple(sorted(filters.items()))
        if not fresh:
            cached = self._cache.get(key)
            if cached is not None:
                self.stats.cache_hits += 1
                return cached
        budget = self.options.total_timeout if deadline_s is None else deadline_s
        deadline = time.monotonic() + budget
        try:
            async with asyncio.timeout_at(_loop_time(deadline + 0.05)):
                result = await self._flights.run(
                    key, lambda: self._read_pages(dict(filters), matches, deadline, budget)
                )
        except TimeoutError:
            raise self._timed_out(budget) from None
        self._cache.put(key, result)
        return result

    async def _read_pages(
        self, filters: dict[str, str], matches: Matches, deadline: float, budget: float
    ) -> LicenseList:
        if self._api_key is None:
            raise ManagementApiError(0, NOT_CONFIGURED)
        licenses: list[ManagedLicense] = []
        count = 0
        for page_number in range(MAX_PAGES):
            params = {**filters, "limit": str(PAGE_SIZE), "offset": str(page_number * PAGE_SIZE)}
            page = await self._call(params, deadline, budget)
            if any(not matches(lic) for lic in page.results) or page.count < len(page.results):
                raise self._count(ManagementApiError(200, FILTER_IGNORED, str(sorted(filters))))
            count = page.count
            licenses.extend(page.results)
            if not page.results or len(licenses) >= count:
                break
        return LicenseList(tuple(licenses), count)

    async def _call(self, params: dict[str, str], deadline: float, budget: float) -> LicensePage:
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                return await self._attempts(params, deadline)
        except TimeoutError:
            raise self._timed_out(budget) from None

    def _timed_out(self, budget: float) -> ManagementApiError:
        return self._count(ManagementApiError(0, TIMEOUT, f"no answer within {budget:g} s"))

    def _count(self, error: ManagementApiError) -> ManagementApiError:
        counts = self.stats.errors_by_code
        counts[error.code] = counts.get(error.code, 0) + 1
        return error

    async def _attempts(self, params: dict[str, str], deadline: float) -> LicensePage:
        attempt = 0
        while True:
            await self.limiter.acquire()
            try:
                return await self._request_once(params)
            except _Retry as retry:
                error = retry.error
                delay = retry.delay if retry.delay is not None else self._backoff(attempt)
                too_long = retry.delay is not None and retry.delay > self.options.max_retry_after
                if (
                    attempt >= self.options.max_retries
                    or too_long
                    or time.monotonic() + delay > deadline
                ):
                    raise self._count(error) from None
                attempt += 1
                self.stats.retries += 1
                log.info(
                    "management_retry", code=error.code, attempt=attempt, delay_s=round(delay, 3)
                )
                await asyncio.sleep(delay)
            except ManagementApiError as error:
                raise self._count(error) from None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.options.backoff_max, self.options.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    async def _request_once(self, params: dict[str, str]) -> LicensePage:
        assert self._api_key is not None
        self.stats.upstream_requests += 1
        try:
            response = await self._http.get(
                self.options.base_url + LICENSES_PATH,
                params=params,
                headers={"Authorization": f"Api-Key {self._api_key}"},
            )
        except httpx.TimeoutException:
            raise _Retry(ManagementApiError(0, TIMEOUT, "no answer in time")) from None
        except httpx.TransportError as exc:
            raise _Retry(ManagementApiError(0, CONNECTION_ERROR, type(exc).__name__)) from None
        status = response.status_code
        if status == 200:
            try:
                return parse_license_page(response.content)
            except MalformedList as exc:
                raise ManagementApiError(200, UNEXPECTED_RESPONSE, str(exc)) from None
        if status in (401, 403):
            raise ManagementApiError(status, KEY_REFUSED, _detail(response))
        if status == 404:
            raise ManagementApiError(status, NOT_FOUND, _detail(response))
        if status == 429:
            raise _Retry(
                ManagementApiError(status, RATE_LIMITED, _detail(response)),
                _retry_after_seconds(response),
            )
        if status >= 500:
            raise _Retry(
                ManagementApiError(status, UNAVAILABLE, f"HTTP {status}"),
                _retry_after_seconds(response),
            )
        raise ManagementApiError(status, UNEXPECTED_RESPONSE, f"HTTP {status}")


class _Retry(Exception):
    def __init__(self, error: ManagementApiError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def _detail(response: httpx.Response) -> str:
    """DRF's `{"detail": "..."}`, shortened; never the request's headers."""
    try:
        payload: Any = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return f"HTTP {response.status_code}"
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        return str(payload["detail"])[:200]
    return f"HTTP {response.status_code}"


def _of_product(lic: ManagedLicense, product: str) -> bool:
    # A license without a product in the answer cannot contradict the filter.
    code = lic.product.short_code
    return not code or code.casefold() == product.strip().casefold()
