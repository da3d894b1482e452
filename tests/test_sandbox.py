"""The sandbox License API, served for real on loopback and called with httpx."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.demo.servers import serve_in_thread
from bot.licensespring.auth import hmac_authorization, http_date
from bot.sandbox import seed
from bot.sandbox.app import LOOKUP_PATH, SandboxState, create_sandbox_app, startup_banner
from bot.sandbox.seed import (
    BIG,
    EMPTY,
    HUGE,
    KEY_PRODUCT,
    PLUS,
    SANDBOX_API_KEY,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_SHARED_KEY,
    SPARSE,
    TYPICAL,
)

DESKTOP = "acme-desktop"
ERROR_KEYS = {"status", "code", "message"}
DOCUMENTED_USER_FIELDS = {
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "is_active",
    "is_initial_password",
    "initial_password",
    "license_id",
    "order_id",
    "order_store_id",
    "max_activations",
    "total_activations",
}
REPO_ROOT = Path(__file__).resolve().parent.parent


def signed_headers(
    api_key: str = SANDBOX_API_KEY,
    shared_key: str = SANDBOX_SHARED_KEY,
    date: str | None = None,
) -> dict[str, str]:
    date = date or http_date()
    return {
        "Date": date,
        "Authorization": hmac_authorization(api_key, shared_key, date),
        "Accept": "application/json",
    }


def lookup(
    client: httpx.Client,
    customer: str = TYPICAL,
    product: str = DESKTOP,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.get(
        LOOKUP_PATH,
        params={"product": product, "customer": customer},
        headers=signed_headers() if headers is None else headers,
    )


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert (response.status_code, body["status"], body["code"]) == (status, status, code)
    assert body["message"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SandboxState, str]]:
    state = SandboxState()
    with serve_in_thread(create_sandbox_app(state)) as url:
        yield state, url


@pytest.fixture
def state(served: tuple[SandboxState, str]) -> SandboxState:
    served[0].reset()
    return served[0]


@pytest.fixture
def client(served: tuple[SandboxState, str], state: SandboxState) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1], timeout=5) as http:
        yield http


def fetch_token(client: httpx.Client) -> str:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
        },
    )
    assert response.status_code == 200
    token: str = response.json()["access_token"]
    return token


def bearer_headers(token: str) -> dict[str, str]:
    return {"Date": http_date(), "Authorization": f"Bearer {token}"}


# --- successful lookups -----------------------------------------------------------------


def test_typical_customer_answers_every_user_with_raw_initial_passwords(
    client: httpx.Client, state: SandboxState
) -> None:
    response = lookup(client)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["customer"]["company_name"] == "Analytical Engines Ltd"
    assert len(body["users"]) == 8
    for user in body["users"]:
        assert set(user) == DOCUMENTED_USER_FIELDS
        assert bool(user["initial_password"]) == user["is_initial_password"]
    assert any(user["is_initial_password"] for user in body["users"])
    assert state.lookups == 1
    assert state.lookups_by_customer[(DESKTOP, TYPICAL)] == 1
    assert state.requests[LOOKUP_PATH] == 1


def test_same_customer_in_another_product_has_other_users(client: httpx.Client) -> None:
    desktop = lookup(client).json()["users"]
    cli = lookup(client, product="acme-cli").json()["users"]

    assert len(cli) == 3
    assert desktop != cli


def test_customer_email_is_case_insensitive(client: httpx.Client) -> None:
    assert lookup(client, customer="ADA@Analytical.Example").status_code == 200


def test_plus_in_email_survives_query_encoding(client: httpx.Client) -> None:
    response = lookup(client, customer=PLUS)

    assert "ops%2Blicenses%40example.com" in str(response.request.url)
    assert response.status_code == 200
    assert len(response.json()["users"]) == 3


def test_python_sdk_apikey_spelling_is_accepted(client: httpx.Client) -> None:
    headers = signed_headers()
    headers["Authorization"] = headers["Authorization"].replace("apikey=", "apiKey=")

    assert lookup(client, headers=headers).status_code == 200


def test_empty_customer_has_no_users(client: httpx.Client) -> None:
    response = lookup(client, customer=EMPTY)

    assert response.status_code == 200
    assert response.json()["users"] == []


def test_healthz(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200


# --- the real service's errors ----------------------------------------------------------


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != name}


def _stale_headers() -> dict[str, str]:
    return signed_headers(date=http_date(time.time() - 16 * 60))


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        pytest.param(
            lambda: _without(signed_headers(), "Date"), 400, "missing_headers", id="no-date"
        ),
        pytest.param(
            lambda: _without(signed_headers(), "Authorization"),
            400,
            "missing_headers",
            id="no-auth",
        ),
        pytest.param(
            lambda: signed_headers(shared_key="wrong"),
            401,
            "signature_mismatch",
            id="bad-signature",
        ),
        pytest.param(_stale_headers, 400, "date_header_diff", id="stale-date"),
        pytest.param(
            lambda: {
                "Date": "yesterday",
                "Authorization": hmac_authorization(
                    SANDBOX_API_KEY, SANDBOX_SHARED_KEY, "yesterday"
                ),
            },
            400,
            "date_header_diff",
            id="unparsable-date",
        ),
        pytest.param(lambda: signed_headers(api_key="nope"), 400, "invalid_api_key", id="bad-key"),
        pytest.param(
            lambda: {"Date": http_date(), "Authorization": "garbage"},
            400,
            "authorization_invalid_headers",
            id="unparsable-auth",
        ),
        pytest.param(
            lambda: {"Date": http_date(), "Authorization": 'algorithm="hmac-sha256",apikey="k"'},
            400,
            "authorization_missing_params",
            id="incomplete-auth",
        ),
        pytest.param(
            lambda: bearer_headers("never-issued"), 401, "oauth_token_malformed", id="bad-token"
        ),
    ],
)
def test_authorization_errors(
    client: httpx.Client,
    state: SandboxState,
    headers: Callable[[], dict[str, str]],
    status: int,
    code: str,
) -> None:
    assert_error(lookup(client, headers=headers()), status, code)
    assert state.lookups == 0


@pytest.mark.parametrize(
    ("product", "customer", "code"),
    [
        ("no-such-product", TYPICAL, "unknown_product"),
        (KEY_PRODUCT, TYPICAL, "invalid_product_auth_method"),
        (KEY_PRODUCT, "nobody@example.com", "invalid_product_auth_method"),
        (DESKTOP, "nobody@example.com", "customer_does_not_exist"),
        ("", TYPICAL, "missing_parameters"),
        (DESKTOP, "", "missing_parameters"),
    ],
)
def test_lookup_errors(client: httpx.Client, product: str, customer: str, code: str) -> None:
    assert_error(lookup(client, customer=customer, product=product), 400, code)


def test_missing_query_parameters(client: httpx.Client) -> None:
    response = client.get(LOOKUP_PATH, headers=signed_headers())

    assert_error(response, 400, "missing_parameters")


# --- OAuth --------------------------------------------------------------------------------


def test_oauth_token_authorizes_lookups_until_expired(
    client: httpx.Client, state: SandboxState
) -> None:
    token = fetch_token(client)

    assert lookup(client, headers=bearer_headers(token)).status_code == 200
    state.expire_tokens()
    assert_error(lookup(client, headers=bearer_headers(token)), 401, "oauth_token_expired")
    assert lookup(client, headers=bearer_headers(fetch_token(client))).status_code == 200
    assert (state.token_requests, state.tokens_issued) == (2, 2)


def test_oauth_token_answer_shape(client: httpx.Client) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
        },
    )

    body = response.json()
    assert (body["expires_in"], body["token_type"]) == (480, "Bearer")
    assert len(body["access_token"]) >= 32


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {
                "grant_type": "client_credentials",
                "client_id": SANDBOX_CLIENT_ID,
                "client_secret": "x",
            },
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "x"},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "password", "client_id": SANDBOX_CLIENT_ID, "client_secret": "x"},
            400,
            "unsupported_grant_type",
        ),
    ],
)
def test_oauth_token_refusals(
    client: httpx.Client, state: SandboxState, form: dict[str, str], status: int, error: str
) -> None:
    response = client.post("/oauth/token", data=form)

    assert (response.status_code, response.json()) == (status, {"error": error})
    assert (state.token_requests, state.tokens_issued) == (1, 0)


def test_expire_tokens_over_http(client: httpx.Client) -> None:
    token = fetch_token(client)

    assert client.post("/_sandbox/oauth/expire").json()["expired"] >= 1
    assert_error(lookup(client, headers=bearer_headers(token)), 401, "oauth_token_expired")


# --- faults -------------------------------------------------------------------------------


def test_latency_fault_delays_every_request(client: httpx.Client, state: SandboxState) -> None:
    state.set_fault(latency_ms=150)

    for _ in range(2):
        started = time.monotonic()
        assert lookup(client).status_code == 200
        assert time.monotonic() - started >= 0.15


def test_start_up_latency_survives_resets() -> None:
    state = SandboxState()
    with (
        serve_in_thread(create_sandbox_app(state, latency_ms=100)) as url,
        httpx.Client(base_url=url) as http,
    ):
        state.reset()
        started = time.monotonic()
        assert lookup(http).status_code == 200
        assert time.monotonic() - started >= 0.1


def test_status_fault_with_retry_after_applies_times_then_stops(
    client: httpx.Client, state: SandboxState
) -> None:
    state.set_fault(status=429, retry_after=7, times=2)

    for _ in range(2):
        response = lookup(client)
        assert_error(response, 429, "too_many_requests")
        assert response.headers["retry-after"] == "7"
    assert lookup(client).status_code == 200
    assert (state.requests[LOOKUP_PATH], state.lookups, state.faulted) == (3, 1, 2)


def test_status_fault_with_own_code_and_message(client: httpx.Client, state: SandboxState) -> None:
    state.set_fault(status=500, code="internal_error", message="boom")

    response = lookup(client)

    assert response.json() == {"status": 500, "code": "internal_error", "message": "boom"}
    assert "retry-after" not in response.headers


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "content"),
    [
        ("json", 200, "application/json", b'{"customer": [broken'),
        ("html", 502, "text/html; charset=utf-8", None),
        ("empty", 200, "application/json", b""),
        ("wrong_type", 200, "text/plain; charset=utf-8", b"OK"),
    ],
)
def test_malformed_answers(
    client: httpx.Client,
    state: SandboxState,
    kind: str,
    status: int,
    content_type: str,
    content: bytes | None,
) -> None:
    state.set_fault(malformed=kind)

    response = lookup(client)

    assert (response.status_code, response.headers["content-type"]) == (status, content_type)
    if content is not None:
        assert response.content == content
    else:
        assert b"<html>" in response.content


def test_drop_connection_is_a_transport_error(client: httpx.Client, state: SandboxState) -> None:
    state.set_fault(drop_connection=True, times=1)

    with pytest.raises(httpx.RemoteProtocolError):
        lookup(client)
    assert lookup(client).status_code == 200


def test_fault_scoped_to_one_customer(client: httpx.Client, state: SandboxState) -> None:
    state.set_fault(status=503, only_customer=EMPTY.upper())

    assert lookup(client).status_code == 200
    assert_error(lookup(client, customer=EMPTY), 503, "service_unavailable")


def test_faults_over_http(client: httpx.Client, state: SandboxState) -> None:
    set_response = client.post("/_sandbox/faults", json={"status": 503, "times": 1})

    assert set_response.status_code == 200
    assert lookup(client).status_code == 503
    assert lookup(client).status_code == 200
    client.post("/_sandbox/faults", json={"malformed": "empty"})
    assert client.delete("/_sandbox/faults").status_code == 200
    assert lookup(client).status_code == 200
    assert state.fault is None


@pytest.mark.parametrize(
    "body",
    [
        {"status": 200},
        {"malformed": "xml"},
        {"status": 500, "malformed": "json"},
        {"surprise": 1},
        {"times": "3"},
        {"latency_ms": True},
        [],
    ],
)
def test_bad_fault_is_refused(client: httpx.Client, state: SandboxState, body: object) -> None:
    response = client.post("/_sandbox/faults", json=body)

    assert_error(response, 400, "validation_error")
    assert state.fault is None


def test_stats_and_reset_over_http(client: httpx.Client) -> None:
    lookup(client)
    lookup(client, customer=EMPTY)
    fetch_token(client)

    stats = client.get("/_sandbox/stats").json()

    assert stats["requests"] == {LOOKUP_PATH: 2, "/oauth/token": 1}
    assert stats["lookups"] == 2
    assert stats["lookups_by_customer"] == {DESKTOP: {TYPICAL: 1, EMPTY: 1}}
    assert stats["token_requests"] == 1
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/stats").json()["requests_total"] == 0


# --- data changes at run time ---------------------------------------------------------------


def test_set_users_replaces_a_served_answer(client: httpx.Client, state: SandboxState) -> None:
    email = "runtime@example.com"
    state.set_users(DESKTOP, email, [seed.license_user("a@example.com", "A", "One")])
    assert len(lookup(client, customer=email).json()["users"]) == 1

    users = [seed.license_user(f"u{i}@example.com", "U", str(i)) for i in range(3)]
    state.set_users(DESKTOP, email.upper(), users)

    body = lookup(client, customer=email).json()
    assert len(body["users"]) == 3
    assert body["customer"]["email"] == email


def test_put_customer_over_http(client: httpx.Client) -> None:
    email = "put+test@example.com"
    payload = {
        "customer": {"email": email, "company_name": "Put Ltd"},
        "users": [seed.license_user("p@example.com", "P", "Q")],
    }

    response = client.put(f"/_sandbox/customers/acme-new/{email}", json=payload)

    assert response.status_code == 200
    body = lookup(client, customer=email, product="acme-new").json()
    assert body["customer"]["company_name"] == "Put Ltd"
    assert len(body["users"]) == 1
    refused = client.put(f"/_sandbox/customers/acme-new/{email}", json={"users": "none"})
    assert_error(refused, 400, "validation_error")


# --- seed -----------------------------------------------------------------------------------


def test_seed_is_deterministic_and_fast() -> None:
    started = time.perf_counter()
    first = seed.seed_customers()
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5
    assert first == seed.seed_customers()
    assert len(first[DESKTOP][BIG]["users"]) == 5_000
    assert HUGE not in first[DESKTOP]


def test_seed_users_have_every_documented_field() -> None:
    for product, customers in seed.seed_customers().items():
        for email, body in customers.items():
            assert body["customer"]["email"] == email
            if email == SPARSE:
                continue
            for user in body["users"]:
                assert set(user) == DOCUMENTED_USER_FIELDS, (product, email)
                assert bool(user["initial_password"]) == user["is_initial_password"]


def test_sparse_customer_is_shaped_like_the_documented_example() -> None:
    body = seed.seed_customers()[DESKTOP][SPARSE]

    assert body["customer"] == {"email": SPARSE}
    assert all("max_activations" not in user for user in body["users"])
    assert any(None in user.values() for user in body["users"])


def test_named_customers_have_their_promised_shape() -> None:
    desktop = seed.seed_customers()[DESKTOP]

    def users(email: str) -> list[dict[str, Any]]:
        return list(desktop[email]["users"])

    assert not any(user["is_active"] for user in users(seed.ALL_INACTIVE))
    at_limit = [u for u in users(seed.AT_LIMIT) if u["total_activations"] == u["max_activations"]]
    assert (len(users(seed.AT_LIMIT)), len(at_limit)) == (5, 3)
    initial = [u for u in users(seed.INITIAL_PASSWORD) if u["is_initial_password"]]
    assert (len(users(seed.INITIAL_PASSWORD)), len(initial)) == (4, 3)
    mischief_text = json.dumps(desktop[seed.MISCHIEF], ensure_ascii=False)
    assert all(sequence in mischief_text for sequence in seed.MISCHIEF_SEQUENCES)


def test_huge_customer_is_built_on_first_request() -> None:
    state = SandboxState()

    body = state.body(DESKTOP, HUGE)

    assert body is not None
    assert len(body["users"]) == 50_000


# --- the command-line entry point -------------------------------------------------------------


def test_banner_names_the_demo_settings_and_no_passwords() -> None:
    banner = startup_banner("http://127.0.0.1:8111")

    assert "LICENSESPRING_API_URL=http://127.0.0.1:8111\n" in banner
    assert "LICENSESPRING_OAUTH_URL=http://127.0.0.1:8111/oauth/token" in banner
    assert f"LICENSESPRING_SHARED_KEY={SANDBOX_SHARED_KEY}" in banner
    passwords = {
        user["initial_password"]
        for customers in seed.seed_customers().values()
        for body in customers.values()
        for user in body["users"]
        if user["initial_password"]
    }
    assert not any(password in banner for password in passwords)


def test_run_sandbox_prints_its_url_and_serves_until_interrupted() -> None:
    code = "from bot.sandbox.app import run_sandbox; run_sandbox('127.0.0.1', 0)"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.strip().startswith("LICENSESPRING_API_URL="):
                url = line.strip().split("=", 1)[1]
                break
        with httpx.Client(base_url=url, timeout=5) as http:
            assert lookup(http).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
