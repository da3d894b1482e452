"""Command line: serve | socket | worker | lookup | sandbox | demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.emails import normalise_email
from bot.logs import configure_logging

if TYPE_CHECKING:
    from bot.userlist import Selection

# Each command imports what it runs, inside its branch: `serve` never loads the terminal
# views, `sandbox` never loads the store, and neither pays for the other's start-up.

EXIT_OK = 0
EXIT_LOOKUP_FAILED = 1
EXIT_USAGE = 2

WITH_WORKER_HELP = "also run the alert poller in this process (single-process deployments)"
SANDBOX_HINT = (
    "start the sandbox with `python -m bot sandbox --port 8181` and use the settings it prints"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Slack bot that shows a LicenseSpring customer's license users.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate settings and reach Slack, the License API and the store, then exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    lookup = commands.add_parser("lookup", help="look up a customer's license users")
    lookup.add_argument("product", help="product short code")
    lookup.add_argument("email", help="customer e-mail")
    lookup.add_argument(
        "search",
        nargs="*",
        help="only users whose e-mail, first or last name contains every word (or an e-mail)",
    )
    output = lookup.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of text")
    output.add_argument(
        "--csv",
        metavar="FILE",
        help="write the users (the matching ones with a search) as CSV to FILE, - for stdout",
    )
    lookup.add_argument(
        "--all", action="store_true", help="list every user (default: the first 50)"
    )

    serve = commands.add_parser("serve", help="run in HTTP mode (production)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server's job
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")
    serve.add_argument("--with-worker", action="store_true", help=WITH_WORKER_HELP)
    socket = commands.add_parser("socket", help="run in Socket Mode (development)")
    socket.add_argument("--with-worker", action="store_true", help=WITH_WORKER_HELP)
    commands.add_parser("worker", help="run the channel-alert poller")
    commands.add_parser("demo", help="watch the bot answer sample commands against the sandbox")

    audit = commands.add_parser("audit", help="print the audit log")
    audit.add_argument("--since", default="7d", help="e.g. 7d, 12h, 30m or 2026-11-01")
    audit.add_argument("--format", choices=("table", "csv", "json"), default="table")

    sandbox = commands.add_parser("sandbox", help="run the embedded License API sandbox")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8181)
    sandbox.add_argument("--latency-ms", type=int, default=0, help="added latency per lookup")
    sandbox.add_argument("--webhook-url", help="send signed webhooks for admin changes here")
    sandbox.add_argument("--webhook-secret", help="the webhook signing secret (with --webhook-url)")
    return parser


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(message, file=sys.stderr)
    return code


async def run_lookup(
    settings: Settings,
    product: str,
    email: str,
    *,
    as_json: bool,
    show_all: bool,
    search: str | None = None,
    csv_path: str | None = None,
) -> int:
    from bot.audit import Auditor
    from bot.licensespring.client import LicenseApiClient
    from bot.licensespring.errors import NOT_CONFIGURED
    from bot.licensespring.management import ManagementApiClient
    from bot.lookup import LookupService
    from bot.reverse import Found
    from bot.textview import render_text, reverse_json, reverse_text, summary_json
    from bot.userlist import UserQuery

    async with (
        LicenseApiClient.from_settings(settings) as client,
        ManagementApiClient.from_settings(settings) as management,
    ):
        # A person waits at the terminal: the same deadline as in Slack; nothing to audit.
        lookups = LookupService(
            client, Auditor(None), deadline_s=settings.lookup_deadline, management=management
        )
        outcome = await lookups.lookup_one(product, email, query=UserQuery(search))
    error = outcome.error
    reverse = outcome.reverse
    if error is not None:
        if error.code == NOT_CONFIGURED:
            return fail(
                "no LicenseSpring credentials configured: set LICENSESPRING_API_KEY and "
                f"LICENSESPRING_SHARED_KEY (or the OAuth client), or {SANDBOX_HINT}"
            )
        if reverse is not None and reverse.found is Found.SEVERAL:
            if csv_path is not None:  # no one customer's users to write
                return fail(reverse_text(reverse, product), EXIT_LOOKUP_FAILED)
            if as_json:
                print(json.dumps({"product": product, **reverse_json(reverse)}, indent=2))
            else:
                print(reverse_text(reverse, product))
                print(f"look one up: python -m bot lookup {product} CUSTOMER_EMAIL {email}")
            return EXIT_OK
        note = f" {reverse_text(reverse, product)}" if reverse is not None else ""
        return fail(f"lookup failed: {error.code}: {error.hint}{note}", EXIT_LOOKUP_FAILED)
    summary = outcome.summary
    assert summary is not None and outcome.selection is not None
    selection = outcome.selection
    if csv_path is not None:
        return write_csv(selection, csv_path)
    if as_json:
        data = summary_json(summary, selection, seats=outcome.seats, reverse=reverse)
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(
            render_text(
                summary,
                max_users=None if show_all else 50,
                selection=selection,
                seats=outcome.seats,
                reverse=reverse,
            )
        )
    return EXIT_OK


def write_csv(selection: Selection, path: str) -> int:
    from bot.export import users_csv

    content = users_csv(selection.users)
    if path == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        Path(path).write_bytes(content)
    except OSError as error:
        return fail(f"cannot write {path}: {error.strerror or type(error).__name__}")
    print(f"wrote {selection.count:,} users to {path}", file=sys.stderr)
    return EXIT_OK


async def print_audit(settings: Settings, since_text: str, output_format: str) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.auditview import RENDERERS, parse_since
    from bot.store import Store

    try:
        since = parse_since(since_text)
        store = await Store.open(settings.database_url)
    except ValueError as error:
        return fail(str(error))
    except (OSError, SQLAlchemyError) as error:
        return fail(f"cannot open the store (DATABASE_URL): {type(error).__name__}", 1)
    try:
        entries = await store.audit_entries(since=since)
    finally:
        await store.close()
    print(RENDERERS[output_format](entries))
    return EXIT_OK


async def print_check(settings: Settings) -> int:
    from bot.check import run_check

    lines, ok = await run_check(settings)
    for line in lines:
        print(line.render())
    print("all checks passed" if ok else "some checks failed")
    return EXIT_OK if ok else EXIT_LOOKUP_FAILED


_SLACK_SETTINGS = frozenset(
    {"slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_api_url"}
)
_SERVICE_SETTINGS = frozenset(
    {
        "alert_poll_interval",
        "allowed_user_ids",
        "allowed_usergroup_ids",
        "allowed_channel_ids",
        "escalation_channel_id",
        "port",
    }
)
_LICENSESPRING_SETTINGS = frozenset(
    name for name in Settings.model_fields if name.startswith("licensespring_")
) | {"default_product", "lookup_deadline"}
UNUSED_SETTINGS: dict[str, frozenset[str]] = {
    "lookup": _SLACK_SETTINGS | _SERVICE_SETTINGS | {"database_url", "default_product"},
    "audit": _SLACK_SETTINGS | _SERVICE_SETTINGS | _LICENSESPRING_SETTINGS,
    "sandbox": _SLACK_SETTINGS | _SERVICE_SETTINGS | _LICENSESPRING_SETTINGS | {"database_url"},
}
"""Settings a command never reads: an invalid value there warns instead of stopping it."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = None if args.check else args.command
    try:
        settings = load_settings(unused=UNUSED_SETTINGS.get(command or "", frozenset()))
    except ConfigError as error:
        return fail(str(error))
    for warning in settings.ignored:
        print(f"configuration warning: {warning}; `{command}` does not use it", file=sys.stderr)
    configure_logging(
        log_format=settings.log_format,
        # The terminal commands print their own results; keep their output clean.
        level="WARNING"
        if args.check or quiet_command(args.command, settings)
        else settings.log_level,
        secrets=settings.secret_values(),
    )
    if args.command == "lookup":
        from bot.slack.core.grammar import InvalidRequest, parse_search

        email = normalise_email(args.email)
        if email is None:
            return fail(f"not an e-mail address: {args.email!r} (expected e.g. ada@example.com)")
        if not args.product.strip():
            return fail("the product short code is empty")
        search = parse_search(" ".join(args.search))
        if isinstance(search, InvalidRequest):
            return fail(search.reason.replace("`", "'"))
        try:
            return asyncio.run(
                run_lookup(
                    settings,
                    args.product,
                    email,
                    as_json=args.json,
                    show_all=args.all,
                    search=search,
                    csv_path=args.csv,
                )
            )
        except KeyboardInterrupt:
            return fail("interrupted", 130)
    if args.check:
        return asyncio.run(print_check(settings))
    try:
        return dispatch(args, settings)
    except ConfigError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return EXIT_OK


def quiet_command(command: str | None, settings: Settings) -> bool:
    return (command or default_command(settings)) in {"lookup", "demo", "audit", "check"}


def default_command(settings: Settings) -> str:
    """`python -m bot` alone: Socket Mode with an app token, HTTP with Slack creds, else demo."""
    if settings.slack_app_token is not None:
        return "socket"
    if settings.has_slack_credentials:
        return "serve"
    return "demo"


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command or default_command(settings)
    if command == "serve":
        from bot.runtime import serve

        port = getattr(args, "port", None) or settings.port
        host = getattr(args, "host", "0.0.0.0")  # noqa: S104
        serve(settings, host, port, with_worker=getattr(args, "with_worker", False))
        return EXIT_OK
    if command == "socket":
        from bot.runtime import socket

        socket(settings, with_worker=getattr(args, "with_worker", False))
        return EXIT_OK
    if command == "worker":
        from bot.runtime import worker

        worker(settings)
        return EXIT_OK
    if command == "demo":
        from bot.demo import run_demo

        return run_demo(settings)
    if command == "audit":
        return asyncio.run(print_audit(settings, args.since, args.format))
    if command == "sandbox":
        from bot.sandbox.app import run_sandbox
        from bot.sandbox.webhooks import WebhookTarget

        if bool(args.webhook_url) != bool(args.webhook_secret):
            return fail("sandbox: give --webhook-url and --webhook-secret together")
        if args.webhook_url and not args.webhook_url.startswith(("http://", "https://")):
            return fail("sandbox: --webhook-url must be an http:// or https:// URL")
        target = WebhookTarget(args.webhook_url, args.webhook_secret) if args.webhook_url else None
        run_sandbox(args.host, args.port, latency_ms=args.latency_ms, webhooks=target)
        return EXIT_OK
    build_parser().print_help()
    return EXIT_USAGE
