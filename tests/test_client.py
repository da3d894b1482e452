"""The License API client against the sandbox over real loopback HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import structlog

from bot.licensespring import auth as auth_module
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.errors import (
    CONNECTION_ERROR,
    DOCUMENTED_CODES,
    NOT_CONFIGURED,
    OAUTH_FAILED,
    RATE_LIMITED,
    TIMEOUT,
    UNEXPECTED_RESPONSE,
    LicenseApiError,
    hint_for,
)
from bot.logs import configure_logging
from bot.sandbox import seed
from bot.sandbox.app import LOOKUP_PATH, SandboxState
from tests.conftest import SettingsFactory


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, remembering each request's headers."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordedSleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


ClientFactory = Callable[..., LicenseApiClient]


def lookup_requests(sandbox: SandboxState) -> int:
    """Requests that reached the lookup endpoint, faulted or not."""
    return sandbox.requests[LOOKUP_PATH]


@pytest.fixture
async def make_client(make_settings: SettingsFactory) -> AsyncIterator[ClientFactory]:
    clients: list[LicenseApiClient] = []

    def build(
        *, transport: httpx.AsyncBaseTransport | None = None, sleep: Any = None, **overrides: Any
    ) -> LicenseApiClient:
        client = LicenseApiClient.from_settings(make_settings(**overrides), transport=transport)
        if sleep is not None:
            client._sleep = sleep
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


async def test_typical_customer(make_client: ClientFactory, sandbox: SandboxState) -> None:
    answer = await make_client().customer_license_users("acme-desktop", seed.TYPICAL)
    assert answer.customer.email == seed.TYPICAL
    assert answer.customer.company_name == "Analytical Engines Ltd"
    assert len(answer.users) == 8
    assert any(u.is_initial_password for u in answer.users)
    assert sandbox.lookups == 1


async def test_initial_password_never_reaches_results_or_logs(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    raw = sandbox.body("acme-desktop", seed.INITIAL_PASSWORD)
    assert raw is not None
    passwords = [u["initial_password"] for u in raw["users"] if u["initial_password"]]
    assert passwords
    stream = io.StringIO()
    configure_logging(log_format="json", level="DEBUG", stream=stream)
    try:
        answer = await make_client().customer_license_users("acme-desktop", seed.INITIAL_PASSWORD)
    finally:
        structlog.reset_defaults()
    dumped = answer.model_dump_json() + repr(answer) + stream.getvalue()
    assert stream.getvalue()  # something was logged, so the check means something
    for password in passwords:
        assert password not in dumped
    assert all(u.is_initial_password is not None for u in answer.users)


async def test_plus_in_email_is_encoded(make_client: ClientFactory, sandbox: SandboxState) -> None:
    transport = RecordingTransport()
    answer = await make_client(transport=transport).customer_license_users(
        "acme-desktop", seed.PLUS
    )
    assert answer.customer.email == seed.PLUS
    assert "customer=ops%2Blicenses%40example.com" in str(transport.requests[0].url)


async def test_headers_signed_with_fresh_date_each_attempt(
    make_client: ClientFactory, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [time.time()]
    real_http_date = auth_module.http_date

    def ticking(now: float | None = None) -> str:
        clock[0] += 2
        return real_http_date(clock[0])

    monkeypatch.setattr(auth_module, "http_date", ticking)
    sandbox.set_fault(status=500, code="internal_error", message="boom", times=2)
    transport = RecordingTransport()
    await make_client(transport=transport, sleep=RecordedSleeps()).customer_license_users(
        "acme-desktop", seed.TYPICAL
    )
    dates = [r.headers["Date"] for r in transport.requests]
    assert len(dates) == 3 and len(set(dates)) == 3
    for request in transport.requests:
        assert request.headers["Accept"] == "application/json"
        expected = auth_module.sign(seed.SANDBOX_SHARED_KEY, request.headers["Date"])
        assert f'signature="{expected}"' in request.headers["Authorization"]


@pytest.mark.parametrize(
    ("product", "email", "code"),
    [
        ("no-such-product", seed.TYPICAL, "unknown_product"),
        (seed.KEY_PRODUCT, seed.TYPICAL, "invalid_product_auth_method"),
        ("acme-desktop", "nobody@example.com", "customer_does_not_exist"),
    ],
)
async def test_endpoint_errors(
    make_client: ClientFactory, sandbox: SandboxState, product: str, email: str, code: str
) -> None:
    with pytest.raises(LicenseApiError) as caught:
        await make_client().customer_license_users(product, email)
    assert caught.value.code == code
    assert caught.value.status == 400
    assert caught.value.hint == hint_for(code)
    assert lookup_requests(sandbox) == 1  # 4xx: never retried


async def test_wrong_shared_key_is_signature_mismatch(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    with pytest.raises(LicenseApiError) as caught:
        await make_client(licensespring_shared_key="wrong").customer_license_users(
            "acme-desktop", seed.TYPICAL
        )
    assert caught.value.code == "signature_mismatch"
    assert "LICENSESPRING_SHARED_KEY" in caught.value.hint


async def test_unknown_api_key(make_client: ClientFactory, sandbox: SandboxState) -> None:
    with pytest.raises(LicenseApiError) as caught:
        await make_client(licensespring_api_key="nope").customer_license_users(
            "acme-desktop", seed.TYPICAL
        )
    assert caught.value.code == "invalid_api_key"


@pytest.mark.parametrize("code", sorted(DOCUMENTED_CODES - {"internal_error"}))
async def test_every_documented_code_becomes_a_typed_error_with_a_hint(
    make_client: ClientFactory, sandbox: SandboxState, code: str
) -> None:
    status = 404 if code == "not_found" else 400
    sandbox.set_fault(status=status, code=code, message=f"{code} happened")
    with pytest.raises(LicenseApiError) as caught:
        await make_client().customer_license_users("acme-desktop", seed.TYPICAL)
    error = caught.value
    assert (error.status, error.code, error.message) == (status, code, f"{code} happened")
    assert error.hint and error.hint == hint_for(code)


async def test_unknown_code_keeps_servers_words(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(status=400, code="brand_new_code", message="Something new")
    with pytest.raises(LicenseApiError) as caught:
        await make_client().customer_license_users("acme-desktop", seed.TYPICAL)
    assert "brand_new_code" in caught.value.hint and "Something new" in caught.value.hint


async def test_5xx_retried_then_succeeds(make_client: ClientFactory, sandbox: SandboxState) -> None:
    sandbox.set_fault(status=503, code="internal_error", message="busy", times=2)
    sleeps = RecordedSleeps()
    client = make_client(sleep=sleeps)
    answer = await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert len(answer.users) == 8
    assert lookup_requests(sandbox) == 3
    assert client.stats.retries == 2
    assert len(sleeps.delays) == 2
    assert 0 < sleeps.delays[0] <= 0.25 and sleeps.delays[1] <= 0.5  # exponential backoff


async def test_retries_are_bounded(make_client: ClientFactory, sandbox: SandboxState) -> None:
    sandbox.set_fault(status=500, code="internal_error", message="down")
    client = make_client(sleep=RecordedSleeps(), licensespring_max_retries=3)
    with pytest.raises(LicenseApiError) as caught:
        await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert caught.value.code == "internal_error"
    assert lookup_requests(sandbox) == 4


async def test_429_honours_retry_after(make_client: ClientFactory, sandbox: SandboxState) -> None:
    sandbox.set_fault(
        status=429, code="too_many_requests", message="slow down", retry_after=3, times=1
    )
    sleeps = RecordedSleeps()
    answer = await make_client(sleep=sleeps).customer_license_users("acme-desktop", seed.TYPICAL)
    assert answer.users
    assert sleeps.delays == [3.0]


async def test_429_without_code_is_rate_limited(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(status=429, malformed=None, code=None, message=None)
    with pytest.raises(LicenseApiError) as caught:
        await make_client(sleep=RecordedSleeps()).customer_license_users(
            "acme-desktop", seed.TYPICAL
        )
    assert caught.value.status == 429
    assert lookup_requests(sandbox) == 3  # default: 2 retries


async def test_retry_after_beyond_cap_fails_fast(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(status=429, code=RATE_LIMITED, message="later", retry_after=3600)
    sleeps = RecordedSleeps()
    with pytest.raises(LicenseApiError):
        await make_client(sleep=sleeps).customer_license_users("acme-desktop", seed.TYPICAL)
    assert sleeps.delays == []
    assert lookup_requests(sandbox) == 1


async def test_read_timeout(make_client: ClientFactory, sandbox: SandboxState) -> None:
    sandbox.set_fault(latency_ms=500)
    client = make_client(
        sleep=RecordedSleeps(), licensespring_read_timeout=0.1, licensespring_max_retries=1
    )
    started = time.monotonic()
    with pytest.raises(LicenseApiError) as caught:
        await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert caught.value.code == TIMEOUT
    assert caught.value.transient
    assert time.monotonic() - started < 0.95  # two 0.5 s waits would be >= 1 s
    assert client.stats.upstream_requests == 2
    await asyncio.sleep(0.5)  # let the sandbox finish the abandoned requests before the next test


async def test_dropped_connection_is_retried(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(drop_connection=True, times=1)
    client = make_client(sleep=RecordedSleeps())
    answer = await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert answer.users and client.stats.retries == 1


async def test_unreachable_server_is_connection_error(make_settings: SettingsFactory) -> None:
    from bot.demo.servers import free_port

    settings = make_settings(licensespring_api_url=f"http://127.0.0.1:{free_port()}")
    async with LicenseApiClient.from_settings(settings) as client:
        client._sleep = RecordedSleeps()
        with pytest.raises(LicenseApiError) as caught:
            await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert caught.value.code == CONNECTION_ERROR
    assert client.stats.upstream_requests == 3


@pytest.mark.parametrize(
    ("malformed", "requests"),
    [("json", 1), ("empty", 1), ("wrong_type", 1), ("html", 3), ("gzip", 1)],
)
async def test_malformed_answers_are_clear_errors(
    make_client: ClientFactory, sandbox: SandboxState, malformed: str, requests: int
) -> None:
    sandbox.set_fault(malformed=malformed)
    with pytest.raises(LicenseApiError) as caught:
        await make_client(sleep=RecordedSleeps()).customer_license_users(
            "acme-desktop", seed.TYPICAL
        )
    assert caught.value.code == UNEXPECTED_RESPONSE
    assert lookup_requests(sandbox) == requests  # a 502 HTML page is retried, a bad 200 is not


async def test_oversized_answer_is_refused(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    client = make_client()
    client.options = dataclasses.replace(client.options, max_body_bytes=10_000)
    with pytest.raises(LicenseApiError) as caught:
        await client.customer_license_users("acme-desktop", seed.BIG)
    assert caught.value.code == UNEXPECTED_RESPONSE
    assert "too large" in caught.value.message


async def test_single_flight(make_client: ClientFactory, sandbox: SandboxState) -> None:
    sandbox.set_fault(latency_ms=200)
    client = make_client(licensespring_cache_ttl=0)
    answers = await asyncio.gather(
        *(client.customer_license_users("acme-desktop", seed.TYPICAL) for _ in range(100))
    )
    assert all(a is answers[0] for a in answers)
    assert sandbox.lookups == 1
    assert client.stats.coalesced == 99


async def test_single_flight_shares_errors_too(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(latency_ms=100)
    client = make_client()
    outcomes = await asyncio.gather(
        *(client.customer_license_users("acme-desktop", "nobody@example.com") for _ in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(o, LicenseApiError) for o in outcomes)
    assert sandbox.lookups == 1


async def test_cache_hits_and_expiry(make_client: ClientFactory, sandbox: SandboxState) -> None:
    client = make_client(licensespring_cache_ttl=0.3)
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    second = await client.lookup("acme-desktop", seed.TYPICAL.upper())  # normalised key
    assert second.cached and sandbox.lookups == 1
    fresh = await client.lookup("acme-desktop", seed.TYPICAL, fresh=True)
    assert not fresh.cached and sandbox.lookups == 2
    await asyncio.sleep(0.35)
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.lookups == 3


async def test_cache_disabled(make_client: ClientFactory, sandbox: SandboxState) -> None:
    client = make_client(licensespring_cache_ttl=0)
    for _ in range(3):
        await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.lookups == 3


async def test_rate_limiter_holds_bursts_under_the_limit(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    client = make_client(licensespring_rate_limit=20, licensespring_cache_ttl=0)
    started = time.monotonic()
    await asyncio.gather(
        *(client.customer_license_users("acme-desktop", seed.TYPICAL) for _ in range(1)),
        *(client.customer_license_users("acme-desktop", f"n{i}@example.com") for i in range(14)),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - started
    assert lookup_requests(sandbox) == 15
    # burst of 5, then 10 more at 20/s: at least 0.45 s
    assert elapsed >= 0.45
    assert client.limiter.waits >= 10


async def test_not_configured(make_settings: SettingsFactory) -> None:
    settings = make_settings(licensespring_api_key=None, licensespring_shared_key=None)
    async with LicenseApiClient.from_settings(settings) as client:
        assert not client.configured
        with pytest.raises(LicenseApiError) as caught:
            await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert caught.value.code == NOT_CONFIGURED
    assert "sandbox" in caught.value.hint


def oauth(make_client: ClientFactory, **extra: Any) -> LicenseApiClient:
    return make_client(
        licensespring_api_key=None,
        licensespring_shared_key=None,
        licensespring_client_id=seed.SANDBOX_CLIENT_ID,
        licensespring_client_secret=seed.SANDBOX_CLIENT_SECRET,
        licensespring_cache_ttl=0,
        **extra,
    )


async def test_oauth_token_fetched_once_and_reused(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    client = oauth(make_client)
    await asyncio.gather(
        *(
            client.customer_license_users("acme-desktop", f"{e}")
            for e in (seed.TYPICAL, seed.EMPTY, seed.AT_LIMIT, seed.UNICODE, seed.SPARSE)
        )
    )
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.token_requests == 1
    assert sandbox.lookups == 6


async def test_oauth_refreshes_once_on_expired_token(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    client = oauth(make_client)
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    sandbox.expire_tokens()
    answers = await asyncio.gather(
        *(client.customer_license_users("acme-desktop", e) for e in (seed.TYPICAL, seed.EMPTY))
    )
    assert len(answers[0].users) == 8
    assert sandbox.token_requests == 2  # concurrent failures share one refresh


async def test_oauth_token_renewed_before_expiry(
    make_client: ClientFactory, sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = oauth(make_client)
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    authenticator = client._auth
    assert isinstance(authenticator, auth_module.OAuthClientCredentials)
    now = time.monotonic()
    authenticator._clock = lambda: now + 400  # expires_in 480, renewed 30 s early
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.token_requests == 1
    authenticator._clock = lambda: now + 451
    await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.token_requests == 2


async def test_oauth_bad_client(make_client: ClientFactory, sandbox: SandboxState) -> None:
    client = oauth(make_client)
    client_secret_bad = make_client(
        licensespring_api_key=None,
        licensespring_shared_key=None,
        licensespring_client_id=seed.SANDBOX_CLIENT_ID,
        licensespring_client_secret="wrong",
    )
    with pytest.raises(LicenseApiError) as caught:
        await client_secret_bad.customer_license_users("acme-desktop", seed.TYPICAL)
    assert caught.value.code == OAUTH_FAILED
    assert caught.value.status == 401
    assert sandbox.lookups == 0
    assert client.configured


async def test_oauth_persistently_rejected_token_fails_after_one_refresh(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sandbox.set_fault(status=401, code="oauth_token_malformed", message="bad token")
    client = oauth(make_client)
    with pytest.raises(LicenseApiError) as caught:
        await client.customer_license_users("acme-desktop", seed.TYPICAL)
    assert caught.value.code == "oauth_token_malformed"
    assert sandbox.token_requests == 2
    assert lookup_requests(sandbox) == 2


async def test_bursts_at_the_highest_allowed_rate_never_trip_the_flood_limit(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    client = make_client(licensespring_rate_limit=45, licensespring_cache_ttl=0)
    assert client.limiter.rate + client.limiter.burst <= 50
    await asyncio.gather(
        *(
            client.customer_license_users("acme-desktop", f"flood{i}@example.com")
            for i in range(100)
        ),
        return_exceptions=True,
    )
    assert lookup_requests(sandbox) == 100
    assert sandbox.rate_limited == 0


async def test_sandbox_flood_limit_answers_429_and_client_retries(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    sleeps = RecordedSleeps()
    client = make_client(sleep=sleeps, licensespring_cache_ttl=0)
    client.limiter = type(client.limiter)(rate=1000, burst=1000)  # no client-side limit
    sandbox.flood_limit = 10
    try:
        outcomes = await asyncio.gather(
            *(
                client.customer_license_users("acme-desktop", seed.TYPICAL + str(i))
                for i in range(30)
            ),
            return_exceptions=True,
        )
    finally:
        sandbox.flood_limit = 50
    assert sandbox.rate_limited > 0
    assert 1.0 in sleeps.delays  # Retry-After: 1 honoured
    assert all(isinstance(o, LicenseApiError) for o in outcomes)


async def test_cache_is_bounded_by_the_answers_sizes(
    make_client: ClientFactory, sandbox: SandboxState
) -> None:
    """LICENSESPRING_CACHE_MAX_MB: the 5,000-user answer (about 1.4 MB) fits in 2 MB beside a
    small one, and is not kept in 1 MB (the small ones still are)."""
    roomy = make_client(licensespring_cache_max_mb=2)
    for _ in range(2):
        await roomy.customer_license_users("acme-desktop", seed.BIG)
        await roomy.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.lookups == 2
    tight = make_client(licensespring_cache_max_mb=1)
    for _ in range(2):
        await tight.customer_license_users("acme-desktop", seed.BIG)
        await tight.customer_license_users("acme-desktop", seed.TYPICAL)
    assert sandbox.lookups == 2 + 3  # the big answer twice, the small one once
