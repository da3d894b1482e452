"""The Management API client against the sandbox's Management API (a real server on loopback)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest

from bot.licensespring import management
from bot.licensespring.management import (
    DOCUMENTED_LICENSE_FILTERS,
    PAGING_PARAMETERS,
    ManagementApiClient,
    ManagementApiError,
    UndocumentedFilter,
)
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from tests.conftest import SettingsFactory

PRODUCT = "acme-desktop"


def client_for(make_settings: SettingsFactory, **overrides: Any) -> ManagementApiClient:
    settings = make_settings(
        **{
            "licensespring_management_api_url": make_settings().licensespring_api_url,
            "licensespring_management_api_key": seed.SANDBOX_MANAGEMENT_API_KEY,
            **overrides,
        }
    )
    return ManagementApiClient.from_settings(settings)


def only_documented_parameters(sandbox: SandboxState) -> None:
    sent = set(sandbox.management.parameters_seen)
    assert sent, "no request reached the Management API"
    assert sent <= DOCUMENTED_LICENSE_FILTERS | PAGING_PARAMETERS, sent


async def test_a_license_user_of_two_customers_is_found_with_documented_filters_only(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    async with client_for(make_settings) as client:
        found = await client.licenses_of_user(seed.SHARED_USER, PRODUCT)
    assert found.count == 2
    assert {lic.customer.email for lic in found.licenses} == {seed.ACME, seed.GLOBEX}
    only_documented_parameters(sandbox)
    assert sandbox.management.parameters_seen["license_users__true_email"] == 1
    assert sandbox.management.parameters_seen["product_short_code"] == 1


async def test_an_undocumented_filter_is_never_sent(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    async with client_for(make_settings) as client:
        with pytest.raises(UndocumentedFilter):
            await client.licenses({"true_email": seed.LICENSE_USER}, lambda lic: True)
    assert sandbox.management.requests == 0


async def test_the_key_goes_in_an_api_key_header(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.headers.get("authorization", ""))

    settings = make_settings(
        licensespring_management_api_url=make_settings().licensespring_api_url,
        licensespring_management_api_key=seed.SANDBOX_MANAGEMENT_API_KEY,
    )
    client = ManagementApiClient.from_settings(settings)
    client._http.event_hooks["request"] = [record]
    async with client:
        await client.licenses_of_customer(seed.TYPICAL, PRODUCT)
    assert seen == [f"Api-Key {seed.SANDBOX_MANAGEMENT_API_KEY}"]


async def test_a_refused_key_is_one_sentence_that_names_the_setting_not_the_key(
    make_settings: SettingsFactory, sandbox: SandboxState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with client_for(make_settings, licensespring_management_api_key="wrong-key") as client:
        with pytest.raises(ManagementApiError) as raised:
            await client.licenses_of_user(seed.LICENSE_USER, PRODUCT)
    error = raised.value
    assert (error.status, error.code) == (401, management.KEY_REFUSED)
    assert "LICENSESPRING_MANAGEMENT_API_KEY" in error.sentence
    assert "wrong-key" not in str(error) + error.sentence + caplog.text
    assert sandbox.management.requests == 1  # a refused key is not retried


async def test_a_hung_management_api_ends_at_the_deadline(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(latency_ms=30_000)
    async with client_for(make_settings) as client:
        started = time.monotonic()
        with pytest.raises(ManagementApiError) as raised:
            await client.licenses_of_user(seed.LICENSE_USER, PRODUCT, deadline_s=1.0)
        elapsed = time.monotonic() - started
    assert raised.value.code == management.TIMEOUT
    assert 0.9 <= elapsed < 1.6
    assert "did not answer in time" in raised.value.sentence


async def test_a_5xx_is_retried_then_answers(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(status=503, times=1)
    async with client_for(make_settings) as client:
        found = await client.licenses_of_customer(seed.TYPICAL, PRODUCT)
        assert client.stats.retries == 1
    assert found.count == 2


async def test_a_lasting_5xx_is_the_unavailable_sentence(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(status=500)
    async with client_for(make_settings, licensespring_max_retries=1) as client:
        with pytest.raises(ManagementApiError) as raised:
            await client.licenses_of_customer(seed.TYPICAL, PRODUCT)
    assert (raised.value.status, raised.value.code) == (500, management.UNAVAILABLE)
    assert sandbox.management.requests == 2


async def test_429_waits_for_retry_after_then_answers(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(status=429, retry_after=1, times=1)
    async with client_for(make_settings) as client:
        started = time.monotonic()
        found = await client.licenses_of_user(seed.LICENSE_USER, PRODUCT)
        elapsed = time.monotonic() - started
    assert found.count == 1
    assert elapsed >= 0.95


async def test_429_with_a_retry_after_past_the_deadline_fails_at_once(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(status=429, retry_after=60)
    async with client_for(make_settings) as client:
        started = time.monotonic()
        with pytest.raises(ManagementApiError) as raised:
            await client.licenses_of_user(seed.LICENSE_USER, PRODUCT, deadline_s=5.0)
        assert time.monotonic() - started < 1.0
    assert (raised.value.status, raised.value.code) == (429, management.RATE_LIMITED)


@pytest.mark.parametrize("kind", ["json", "empty", "wrong_type"])
async def test_malformed_answers_are_the_unreadable_sentence(
    make_settings: SettingsFactory, sandbox: SandboxState, kind: str
) -> None:
    sandbox.management.set_fault(malformed=kind)
    async with client_for(make_settings) as client:
        with pytest.raises(ManagementApiError) as raised:
            await client.licenses_of_user(seed.LICENSE_USER, PRODUCT)
    assert raised.value.code == management.UNEXPECTED_RESPONSE
    assert raised.value.sentence


async def test_an_answer_the_filter_cannot_match_is_an_error_not_data(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.ignore_filters = True  # the server lists everything
    async with client_for(make_settings) as client:
        with pytest.raises(ManagementApiError) as by_user:
            await client.licenses_of_user(seed.LICENSE_USER, PRODUCT)
        with pytest.raises(ManagementApiError) as by_customer:
            await client.licenses_of_customer(seed.TYPICAL, PRODUCT)
    assert by_user.value.code == by_customer.value.code == management.FILTER_IGNORED


async def test_paging_reads_every_page_up_to_ten(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    customer = seed.customer_record("many@licenses.example", company_name="Many Licenses")
    for index in range(250):
        sandbox.management.add_license(
            PRODUCT, customer, [f"user{index}@licenses.example"], max_license_users=2
        )
    async with client_for(make_settings) as client:
        found = await client.licenses_of_customer("many@licenses.example", PRODUCT)
    assert (found.count, len(found.licenses), found.complete) == (250, 250, True)
    assert sandbox.management.requests == 3


async def test_past_a_thousand_licenses_reading_stops(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    customer = seed.customer_record("vast@licenses.example", company_name="Vast")
    for index in range(1_001):
        sandbox.management.add_license(PRODUCT, customer, [f"u{index}@v.example"])
    async with client_for(make_settings) as client:
        found = await client.licenses_of_customer("vast@licenses.example", PRODUCT)
    assert found.count == 1_001
    assert len(found.licenses) == 1_000
    assert not found.complete
    assert sandbox.management.requests == 10


async def test_identical_calls_share_one_request_and_the_cache(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(latency_ms=200)
    async with client_for(make_settings) as client:
        first, second = await asyncio.gather(
            client.licenses_of_user(seed.LICENSE_USER, PRODUCT),
            client.licenses_of_user(seed.LICENSE_USER, PRODUCT),
        )
        third = await client.licenses_of_user(seed.LICENSE_USER, PRODUCT)
        assert client.stats.cache_hits == 1
    assert first == second == third
    assert sandbox.management.requests == 1


async def test_an_address_typed_in_mixed_case_is_asked_again_in_lower_case(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    async with client_for(make_settings) as client:
        found = await client.licenses_of_user("Jane@acme.example", PRODUCT)
        seats = await client.licenses_of_customer("Ada@analytical.example", PRODUCT)
        exact = await client.licenses_of_user(seed.LICENSE_USER, PRODUCT)
    assert found.count == 1 and seats.count == 2 and exact.count == 1
    # Twice each in mixed case; the lower-case address was then in the cache.
    assert sandbox.management.requests == 4


async def test_initial_passwords_are_dropped_at_parse_time(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{make_settings().licensespring_api_url}/api/v1/licenses/",
            params={"customer_email": seed.TYPICAL, "product_short_code": PRODUCT},
            headers={"Authorization": f"Api-Key {seed.SANDBOX_MANAGEMENT_API_KEY}"},
        )
    raw = answer.json()
    passwords = {
        user["initial_password"]
        for lic in raw["results"]
        for user in lic["license_users"]
        if user.get("initial_password")
    }
    assert passwords  # the sandbox answers with one, as the real API may
    async with client_for(make_settings) as client:
        found = await client.licenses_of_customer(seed.TYPICAL, PRODUCT)
        cached = repr(client._cache._entries)
    parsed = json.dumps([lic.model_dump() for lic in found.licenses])
    for password in passwords:
        assert password not in parsed
        assert password not in cached
    assert "initial_password" not in parsed


async def test_the_probe_is_one_request_for_one_license(
    make_settings: SettingsFactory, sandbox: SandboxState
) -> None:
    async with client_for(make_settings) as client:
        visible = await client.probe()
    assert visible > 10
    assert sandbox.management.requests == 1
    assert set(sandbox.management.parameters_seen) == {"limit", "offset"}


def test_sandbox_ignores_unknown_filters_as_the_real_server_does(
    sandbox_url: str, sandbox: SandboxState
) -> None:
    headers = {"Authorization": f"Api-Key {seed.SANDBOX_MANAGEMENT_API_KEY}"}
    everything = httpx.get(f"{sandbox_url}/api/v1/licenses/", headers=headers).json()
    misspelt = httpx.get(
        f"{sandbox_url}/api/v1/licenses/", params={"email": seed.LICENSE_USER}, headers=headers
    ).json()
    exact = httpx.get(
        f"{sandbox_url}/api/v1/licenses/",
        params={"license_users__true_email": seed.LICENSE_USER},
        headers=headers,
    ).json()
    assert misspelt["count"] == everything["count"] > 10
    assert exact["count"] == 1
    page = httpx.get(
        f"{sandbox_url}/api/v1/licenses/", params={"limit": 5, "offset": 5}, headers=headers
    ).json()
    assert len(page["results"]) == 5
    assert page["results"][0] == everything["results"][5]
    assert page["next"] is not None and page["previous"] is not None


def test_sandbox_license_users_list_and_auth(sandbox_url: str, sandbox: SandboxState) -> None:
    url = f"{sandbox_url}/api/v1/license-users/"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Api-Key nope"}).json() == {
        "detail": "Invalid API key."
    }
    headers = {"Authorization": f"Api-Key {seed.SANDBOX_MANAGEMENT_API_KEY}"}
    found = httpx.get(
        url, params={"true_email__iexact": seed.SHARED_USER.upper()}, headers=headers
    ).json()
    assert found["count"] == 1
    assert found["results"][0]["total_licenses"] == 2
