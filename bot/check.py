"""`python -m bot --check`: settings, Slack, the License API and the store, in one report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.licensespring.client import LicenseApiClient
from bot.licensespring.errors import LicenseApiError
from bot.licensespring.management import ManagementApiClient, ManagementApiError
from bot.slack.app import build_web_client
from bot.store import Store, redact_url

# Answers that prove the credentials were accepted: only the (made-up) customer was not found.
_AUTH_ACCEPTED = frozenset(
    {
        "customer_does_not_exist",
        "customer_not_found",
        "unknown_product",
        "invalid_product_auth_method",
    }
)
PROBE_CUSTOMER = "license-users-bot-check@example.invalid"


@dataclass(frozen=True, slots=True)
class CheckLine:
    name: str
    ok: bool | None  # None: not configured, nothing to check
    detail: str

    def render(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.ok]
        return f"[{mark}] {self.name}: {self.detail}"


def check_settings(settings: Settings) -> CheckLine:
    if settings.slack_app_token is not None:
        mode = "Socket Mode"
    elif settings.has_slack_credentials:
        mode = "HTTP mode"
    else:
        mode = "demo (no Slack credentials)"
    products = ", ".join(settings.licensespring_products) or "any"
    return CheckLine(
        "settings",
        True,
        f"valid; `python -m bot` would run {mode}; products: {products}; "
        f"default product: {settings.default_product or 'none'}",
    )


async def check_store(settings: Settings) -> CheckLine:
    try:
        store = await Store.open(settings.database_url)
    except ValueError as error:
        return CheckLine("store", False, str(error))
    except (OSError, SQLAlchemyError) as error:
        return CheckLine(
            "store",
            False,
            f"cannot open {redact_url(settings.database_url)}: {type(error).__name__}",
        )
    try:
        ok = await store.ping()
        return CheckLine("store", ok, f"{store.dialect} at {redact_url(settings.database_url)}")
    finally:
        await store.close()


async def check_slack(settings: Settings) -> CheckLine:
    if settings.slack_bot_token is None:
        return CheckLine("slack", None, "SLACK_BOT_TOKEN not set")
    try:
        answer = await build_web_client(settings).auth_test()
    except SlackApiError as error:
        return CheckLine("slack", False, f"auth.test failed: {error.response.get('error')}")
    except OSError as error:
        return CheckLine("slack", False, f"cannot reach {settings.slack_api_url}: {error}")
    return CheckLine(
        "slack", True, f"bot user {answer.get('user_id')} in team {answer.get('team')}"
    )


async def check_licensespring(settings: Settings) -> CheckLine:
    if not settings.has_licensespring_credentials:
        return CheckLine("licensespring", None, "no credentials (API key + shared key, or OAuth)")
    product = settings.default_product or next(iter(settings.licensespring_products), "check")
    async with LicenseApiClient.from_settings(settings) as client:
        try:
            await client.customer_license_users(product, PROBE_CUSTOMER, fresh=True)
        except LicenseApiError as error:
            if error.code in _AUTH_ACCEPTED:
                return CheckLine(
                    "licensespring",
                    True,
                    f"credentials accepted by {settings.licensespring_api_url}",
                )
            return CheckLine("licensespring", False, f"{error.code}: {error.hint}")
    return CheckLine("licensespring", True, f"reachable at {settings.licensespring_api_url}")


async def check_management(settings: Settings) -> CheckLine:
    if not settings.has_management_key:
        return CheckLine(
            "management api",
            None,
            "LICENSESPRING_MANAGEMENT_API_KEY not set: customers are found only by their own "
            "e-mail, and seats are not shown",
        )
    url = settings.licensespring_management_api_url
    async with ManagementApiClient.from_settings(settings) as client:
        try:
            visible = await client.probe()
        except ManagementApiError as error:
            return CheckLine("management api", False, f"{error.code}: {error.sentence}")
    return CheckLine(
        "management api", True, f"key set and accepted by {url} ({visible:,} licenses visible)"
    )


def check_webhooks(settings: Settings) -> CheckLine:
    if settings.licensespring_webhook_secret is None:
        return CheckLine(
            "webhooks",
            None,
            "LICENSESPRING_WEBHOOK_SECRET not set: alerts come from polling only "
            f"(every {settings.alert_poll_interval} s)",
        )
    return CheckLine(
        "webhooks",
        True,
        "POST /licensespring/webhooks verifies the "
        f"{settings.licensespring_webhook_signature_header} header; watches are re-checked "
        "within seconds of an event",
    )


CHECKS: tuple[Callable[[Settings], Awaitable[CheckLine]], ...] = (
    check_store,
    check_slack,
    check_licensespring,
    check_management,
)


async def run_check(settings: Settings) -> tuple[list[CheckLine], bool]:
    lines = [check_settings(settings), check_webhooks(settings)]
    for check in CHECKS:
        lines.append(await check(settings))
    return lines, all(line.ok is not False for line in lines)
