"""Customers found from a license user's e-mail, and seats: LookupService over the sandbox's
License API and Management API (real servers on loopback), the CLI and `--check`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.audit import Actor, Auditor
from bot.demo.fake_slack import FakeSlack
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.management import (
    DOCUMENTED_LICENSE_FILTERS,
    PAGING_PARAMETERS,
    ManagementApiClient,
)
from bot.lookup import REVERSE_BUDGET_S, SEATS_GRACE_S, LookupOutcome, LookupService
from bot.rendering.blocks import SummaryButtons, render_customer_choice, render_summary
from bot.reverse import Found
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.seats import SeatsState
from bot.userlist import UserFilter, UserQuery
from tests.conftest import SettingsFactory
from tests.support.blockkit import assert_valid_blocks
from tests.test_cli import run_bot
from tests.test_operations import env_for

PRODUCT = "acme-desktop"

Service = Callable[..., Any]


@pytest.fixture
def service(make_settings: SettingsFactory) -> Service:
    """`async with service(key=True, **settings) as lookups`: a LookupService on the sandbox."""

    @asynccontextmanager
    async def build(*, key: bool = True, **overrides: Any) -> AsyncIterator[LookupService]:
        url = make_settings().licensespring_api_url
        values: dict[str, Any] = {"lookup_deadline": 8.0, **overrides}
        if key:
            values.setdefault("licensespring_management_api_url", url)
            values.setdefault("licensespring_management_api_key", seed.SANDBOX_MANAGEMENT_API_KEY)
        settings = make_settings(**values)
        async with (
            LicenseApiClient.from_settings(settings) as client,
            ManagementApiClient.from_settings(settings) as management,
        ):
            yield LookupService(
                client,
                Auditor(None),
                deadline_s=settings.lookup_deadline,
                management=management,
            )

    return build


def users_of(outcome: LookupOutcome) -> list[str]:
    assert outcome.selection is not None
    return [user.email for user in outcome.selection.users]


# --- reverse lookup -----------------------------------------------------------------------


async def test_a_license_user_of_one_customer_gets_that_customers_answer_narrowed(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.LICENSE_USER)
    assert outcome.ok and outcome.summary is not None
    assert outcome.email == seed.ACME
    assert outcome.summary.customer.company_name == "Acme Ltd"
    assert outcome.summary.total == 3  # the customer's totals
    assert users_of(outcome) == [seed.LICENSE_USER]  # the list: the user sought
    assert outcome.reverse is not None and outcome.reverse.found is Found.ONE
    assert outcome.reverse.license_user == seed.LICENSE_USER
    message = render_summary(
        outcome.summary,
        lookup_email=outcome.email,
        selection=outcome.selection,
        seats=outcome.seats,
        reverse=outcome.reverse,
    )
    assert_valid_blocks(message.blocks)
    assert message.blocks[0]["text"]["text"] == (
        ":bust_in_silhouette: `jane@acme.example` is a license user of *Acme Ltd* "
        "(`buyer@acme.example`)"
    )
    sent = set(sandbox.management.parameters_seen)
    assert sent <= DOCUMENTED_LICENSE_FILTERS | PAGING_PARAMETERS


async def test_a_user_on_no_customer_is_not_a_license_user_either(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, "nobody@nowhere.example")
    assert outcome.error is not None and outcome.error.code == "customer_does_not_exist"
    assert outcome.reverse is not None and outcome.reverse.found is Found.NONE


async def test_a_user_on_three_customers_is_a_choice_never_a_silent_pick(
    service: Service, sandbox: SandboxState
) -> None:
    typical = seed.seed_customers()[PRODUCT][seed.TYPICAL]["customer"]
    sandbox.management.add_license(PRODUCT, typical, [seed.SHARED_USER], max_license_users=3)
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.SHARED_USER)
    assert outcome.summary is None
    assert outcome.reverse is not None and outcome.reverse.found is Found.SEVERAL
    # By company: Acme Ltd, Analytical Engines Ltd, Globex Corporation.
    assert [c.email for c in outcome.reverse.customers] == [seed.ACME, seed.TYPICAL, seed.GLOBEX]
    message = render_customer_choice(outcome.reverse, PRODUCT)
    assert_valid_blocks(message.blocks)
    buttons = [b["accessory"]["action_id"] for b in message.blocks if "accessory" in b]
    assert buttons == ["choose_customer_0", "choose_customer_1", "choose_customer_2"]


async def test_a_customer_the_license_api_does_not_know_is_said_so(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.ORPHAN_USER)
    assert outcome.error is not None and outcome.error.code == "customer_does_not_exist"
    assert outcome.reverse is not None
    assert outcome.reverse.found is Found.UNKNOWN_CUSTOMER
    assert outcome.reverse.customers[0].email == seed.ORPHAN_CUSTOMER


@pytest.mark.parametrize("asked", ["Ops+Alice@example.com", "ops+alice@example.com"])
async def test_mixed_case_and_plus_addresses(
    service: Service, sandbox: SandboxState, asked: str
) -> None:
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, asked)
    assert outcome.email == seed.PLUS
    assert users_of(outcome) == ["ops+alice@example.com"]


async def test_without_a_key_the_reply_says_what_the_key_would_do(
    service: Service, sandbox: SandboxState
) -> None:
    async with service(key=False) as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.LICENSE_USER)
        ok = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
    assert outcome.reverse is not None and outcome.reverse.found is Found.NO_KEY
    assert ok.seats is None and ok.reverse is None
    assert sandbox.management.requests == 0


async def test_a_failing_management_api_leaves_the_usual_reply(
    service: Service, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(status=401)
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.LICENSE_USER)
    assert outcome.reverse is not None and outcome.reverse.found is Found.FAILED
    assert "management key" in (outcome.reverse.failure or "")


async def test_several_products_none_named_search_across_them(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcomes = await lookups.lookup(
            ["acme-desktop", "acme-cli"],
            seed.LICENSE_USER,
            surface="test",
            reference="r",
            actor=Actor("U1", None),
        )
    desktop, cli = outcomes
    assert desktop.email == seed.ACME and desktop.ok
    assert cli.reverse is not None and cli.reverse.found is Found.NONE


# --- seats --------------------------------------------------------------------------------


async def test_seats_of_a_customer_with_a_full_license(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
    seats = outcome.seats
    assert seats is not None and seats.state is SeatsState.COUNTED
    assert (seats.used, seats.maximum, len(seats.full)) == (8, 15, 1)
    assert seats.licenses[0].full  # full licenses first
    assert outcome.summary is not None
    message = render_summary(
        outcome.summary, lookup_email=seed.TYPICAL, selection=outcome.selection, seats=seats
    )
    assert_valid_blocks(message.blocks)
    assert "*Seats: 8 / 15, 1 license full*" in json.dumps(message.blocks)


async def test_no_cap_in_the_answer_means_no_seat_figures(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.AT_LIMIT)
    assert outcome.ok and outcome.seats is None


async def test_seats_come_with_the_cached_answer(service: Service, sandbox: SandboxState) -> None:
    async with service() as lookups:
        await lookups.lookup_one(PRODUCT, seed.TYPICAL)
        again = await lookups.lookup_one(PRODUCT, seed.TYPICAL, query=UserQuery("ada"))
    assert again.cached
    assert again.seats is not None and again.seats.used == 8
    assert sandbox.management.requests == 1


async def test_a_hung_management_api_delays_the_summary_at_most_the_grace(
    service: Service, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(latency_ms=30_000)
    async with service() as lookups:
        started = time.monotonic()
        outcome = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
        elapsed = time.monotonic() - started
    assert outcome.ok
    assert outcome.seats is not None and outcome.seats.state is SeatsState.UNREADABLE
    assert SEATS_GRACE_S - 0.1 <= elapsed < SEATS_GRACE_S + 1.0
    assert outcome.summary is not None
    message = render_summary(outcome.summary, lookup_email=seed.TYPICAL, seats=outcome.seats)
    assert "Seats could not be read" in json.dumps(message.blocks)


async def test_a_hung_management_api_ends_a_reverse_lookup_at_the_deadline(
    service: Service, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(latency_ms=30_000)
    async with service(lookup_deadline=2.0) as lookups:
        started = time.monotonic()
        outcome = await lookups.lookup_one(PRODUCT, seed.LICENSE_USER)
        elapsed = time.monotonic() - started
    assert outcome.reverse is not None and outcome.reverse.found is Found.FAILED
    assert elapsed < 2.0


async def test_a_5xx_or_429_on_seats_never_fails_the_summary(
    service: Service, sandbox: SandboxState
) -> None:
    sandbox.management.set_fault(status=500)
    async with service(licensespring_max_retries=0) as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
    assert outcome.ok and outcome.summary is not None and outcome.summary.total == 8
    assert outcome.seats is not None and outcome.seats.state is SeatsState.UNREADABLE


async def test_more_than_a_thousand_licenses_are_not_counted(
    service: Service, sandbox: SandboxState
) -> None:
    typical = seed.seed_customers()[PRODUCT][seed.TYPICAL]["customer"]
    for index in range(1_000):
        sandbox.management.add_license(
            PRODUCT, typical, [f"x{index}@a.example"], max_license_users=1
        )
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
    assert outcome.seats is not None and outcome.seats.state is SeatsState.TOO_MANY
    assert outcome.summary is not None
    message = render_summary(outcome.summary, lookup_email=seed.TYPICAL, seats=outcome.seats)
    assert "Seats not counted: more than 1,000 licenses" in json.dumps(message.blocks)


async def test_initial_passwords_in_management_answers_are_never_shown_logged_or_cached(
    service: Service, sandbox: SandboxState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mary = "mary.somerville@analytical.example"  # on the initial password: the answer has it
    password = next(
        user["initial_password"]
        for lic in sandbox.management.licenses()
        for user in lic["license_users"]
        if user["true_email"] == mary
    )
    assert password
    async with service() as lookups:
        outcome = await lookups.lookup_one(PRODUCT, mary)
        assert lookups.management is not None
        cached = repr(lookups.management._cache._entries)
    assert outcome.email == seed.TYPICAL
    assert outcome.summary is not None
    message = render_summary(
        outcome.summary,
        lookup_email=outcome.email,
        selection=outcome.selection,
        seats=outcome.seats,
        reverse=outcome.reverse,
    )
    shown = json.dumps(message.blocks) + message.text
    for text in (shown, cached, caplog.text, repr(outcome)):
        assert password not in text


# --- the CLI and --check ------------------------------------------------------------------


def management_env(sandbox_url: str, fake_slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    return env_for(
        sandbox_url,
        fake_slack,
        tmp_path,
        LICENSESPRING_MANAGEMENT_API_URL=sandbox_url,
        LICENSESPRING_MANAGEMENT_API_KEY=seed.SANDBOX_MANAGEMENT_API_KEY,
    )


def test_cli_lookup_by_a_license_users_email(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = management_env(sandbox_url, fake_slack, tmp_path)
    text = run_bot("lookup", PRODUCT, seed.LICENSE_USER, env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "jane@acme.example is a license user of Acme Ltd (buyer@acme.example)"
    assert "Seats: 3 / 5" in text.stdout
    as_json = run_bot("lookup", PRODUCT, seed.LICENSE_USER, "--json", env=env, cwd=tmp_path)
    data = json.loads(as_json.stdout)
    assert data["customer"]["email"] == seed.ACME
    assert data["found_from"]["customers"][0]["email"] == seed.ACME
    assert data["seats"]["used"] == 3 and data["seats"]["max"] == 5
    assert [user["email"] for user in data["users"]] == [seed.LICENSE_USER]
    as_csv = run_bot("lookup", PRODUCT, seed.LICENSE_USER, "--csv", "-", env=env, cwd=tmp_path)
    assert seed.LICENSE_USER in as_csv.stdout and "raj@acme.example" not in as_csv.stdout


def test_cli_several_customers_and_none(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = management_env(sandbox_url, fake_slack, tmp_path)
    several = run_bot("lookup", PRODUCT, seed.SHARED_USER, "--json", env=env, cwd=tmp_path)
    data = json.loads(several.stdout)
    assert data["found"] == "several"
    assert [c["email"] for c in data["customers"]] == [seed.ACME, seed.GLOBEX]
    as_csv = run_bot("lookup", PRODUCT, seed.SHARED_USER, "--csv", "-", env=env, cwd=tmp_path)
    assert as_csv.returncode == 1 and as_csv.stdout == ""
    assert "is a license user of 2 customers" in as_csv.stderr
    none = run_bot("lookup", PRODUCT, "nobody@nowhere.example", env=env, cwd=tmp_path)
    assert none.returncode == 1
    assert "not a license user either" in none.stderr


def test_check_reports_the_management_key(
    sandbox_url: str, sandbox: SandboxState, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    without = run_bot("--check", env=env_for(sandbox_url, fake_slack, tmp_path), cwd=tmp_path)
    assert "[--  ] management api: LICENSESPRING_MANAGEMENT_API_KEY not set" in without.stdout
    env = management_env(sandbox_url, fake_slack, tmp_path)
    with_key = run_bot("--check", env=env, cwd=tmp_path)
    assert "[ok  ] management api: key set and accepted" in with_key.stdout
    assert seed.SANDBOX_MANAGEMENT_API_KEY not in with_key.stdout + with_key.stderr
    assert sandbox.management.requests == 1
    refused = run_bot(
        "--check", env={**env, "LICENSESPRING_MANAGEMENT_API_KEY": "bad-key"}, cwd=tmp_path
    )
    assert "[FAIL] management api: management_key_refused" in refused.stdout
    assert "bad-key" not in refused.stdout + refused.stderr
    assert refused.returncode == 1


async def test_the_on_a_full_license_filter(service: Service, sandbox: SandboxState) -> None:
    async with service() as lookups:
        everyone = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
        full = await lookups.lookup_one(
            PRODUCT, seed.TYPICAL, query=UserQuery(filter=UserFilter.FULL_LICENSE)
        )
        searched = await lookups.lookup_one(
            PRODUCT, seed.TYPICAL, query=UserQuery("boole", UserFilter.FULL_LICENSE)
        )
    assert everyone.selection is not None
    assert everyone.selection.filter_counts[UserFilter.FULL_LICENSE] == 5
    assert sorted(users_of(full)) == sorted(
        [
            "ada.lovelace@analytical.example",
            "charles.babbage@analytical.example",
            "mary.somerville@analytical.example",
            "augustus.demorgan@analytical.example",
            "luigi.menabrea@analytical.example",
        ]
    )
    assert users_of(searched) == []  # George Boole's license has room
    assert everyone.summary is not None
    message = render_summary(
        everyone.summary,
        lookup_email=seed.TYPICAL,
        selection=everyone.selection,
        seats=everyone.seats,
        buttons=SummaryButtons(list_tools=True),
    )
    assert_valid_blocks(message.blocks)
    assert "On a full license (5)" in json.dumps(message.blocks)


async def test_the_full_license_filter_is_not_offered_without_seats(
    service: Service, sandbox: SandboxState
) -> None:
    async with service(key=False) as lookups:
        outcome = await lookups.lookup_one(PRODUCT, seed.TYPICAL)
    assert outcome.selection is not None
    assert UserFilter.FULL_LICENSE not in outcome.selection.filter_counts


async def test_the_pollers_refresh_never_swaps_in_another_customer(
    service: Service, sandbox: SandboxState
) -> None:
    async with service() as lookups:
        outcome = await lookups.refresh(PRODUCT, seed.LICENSE_USER, surface="poll")
    assert outcome.error is not None and outcome.error.code == "customer_does_not_exist"
    assert outcome.reverse is None
    assert sandbox.management.parameters_seen["license_users__true_email"] == 0


async def test_a_hung_management_api_holds_a_reverse_lookup_for_its_budget_only(
    service: Service, sandbox: SandboxState
) -> None:
    """With the default 12 s deadline, a hung Management API costs the budget, not 12 s."""
    sandbox.management.set_fault(latency_ms=30_000)
    async with service(lookup_deadline=12.0) as lookups:
        started = time.monotonic()
        outcome = await lookups.lookup_one(PRODUCT, seed.LICENSE_USER)
        elapsed = time.monotonic() - started
    assert outcome.reverse is not None and outcome.reverse.found is Found.FAILED
    assert REVERSE_BUDGET_S - 0.5 < elapsed < REVERSE_BUDGET_S + 1.5
