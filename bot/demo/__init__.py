"""`python -m bot demo`: the real bot answering real signed commands, with no credentials at all.

The demo package also holds the local stand-ins the demo, the tests and the benchmarks run
against (a fake Slack, loopback servers, Slack-signed request builders, terminal rendering):
nothing here is used in production.

Starts, on loopback: the sandbox License API, a local Slack stand-in (Web API + response_url
receiver) and the real HTTP app. Sends Slack-signed `/license-users` commands through
`POST /slack/events` exactly as Slack would, and prints what the bot sends back.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from bot.config import Settings
from bot.demo.fake_slack import FakeSlack, running_fake_slack
from bot.demo.servers import free_port, serve_in_thread
from bot.demo.slack_requests import post_signed_sync, slash_command_body
from bot.demo.terminal import block_kit_builder_url, render_for_terminal
from bot.rendering.blocks import Message, render_notice
from bot.runtime import start_runtime
from bot.sandbox import seed
from bot.sandbox.app import create_sandbox_app
from bot.sandbox.webhooks import DEFAULT_HEADER, WebhookTarget
from bot.server import create_server
from bot.webhooks.endpoint import WEBHOOK_PATH

SAMPLE_COMMANDS: tuple[str, ...] = (
    f"acme-desktop {seed.TYPICAL}",
    f"acme-desktop {seed.AT_LIMIT}",
    f"acme-desktop {seed.MISCHIEF}",
    f"acme-desktop {seed.EMPTY}",
    "acme-desktop nobody@example.com",
    "acme-desktop not-an-email",
)
RESPONSE_TIMEOUT_S = 15.0


@dataclass
class DemoSession:
    slack: FakeSlack
    events_url: str
    signing_secret: str
    http: httpx.Client
    sandbox_url: str = ""

    def send(self, text: str) -> tuple[Message, float, float]:
        """One signed command; returns the final message, ack ms and answer ms."""
        response_url = self.slack.new_response_url()
        body = slash_command_body(text, response_url=response_url, user_id="UDEMO")
        started = time.perf_counter()
        ack = post_signed_sync(self.http, self.events_url, body, secret=self.signing_secret)
        ack_ms = (time.perf_counter() - started) * 1000
        ack.raise_for_status()
        acked = ack.json() if ack.content else {}
        if "Looking up" not in str(acked.get("text", "")):
            return render_notice(str(acked.get("text", ""))), ack_ms, ack_ms
        rid = response_url.rsplit("/", 1)[1]
        delivered = self.slack.wait_for_responses(1, response_id=rid, timeout=RESPONSE_TIMEOUT_S)
        answer_ms = (time.perf_counter() - started) * 1000
        final = delivered[-1].body
        return (
            Message(text=str(final.get("text", "")), blocks=list(final.get("blocks", []))),
            ack_ms,
            answer_ms,
        )


@contextmanager
def demo_session(settings: Settings) -> Iterator[DemoSession]:
    signing_secret = secrets.token_hex(16)
    webhook_secret = secrets.token_hex(16)
    bot_port = free_port()
    with ExitStack() as stack:
        database = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "demo.db"
        # The sandbox signs and sends webhooks to the bot, as LicenseSpring would.
        webhooks = WebhookTarget(
            f"http://127.0.0.1:{bot_port}{WEBHOOK_PATH}", webhook_secret, DEFAULT_HEADER
        )
        sandbox_url = stack.enter_context(serve_in_thread(create_sandbox_app(webhooks=webhooks)))
        slack = stack.enter_context(running_fake_slack(bot_token="xoxb-demo-" + "0" * 4))
        bot_settings = settings.model_copy(
            update={
                "slack_bot_token": _secret(slack.bot_token),
                "slack_signing_secret": _secret(signing_secret),
                "slack_app_token": None,
                "slack_api_url": slack.api_url,
                "licensespring_api_url": sandbox_url,
                "licensespring_api_key": _secret(seed.SANDBOX_API_KEY),
                "licensespring_shared_key": _secret(seed.SANDBOX_SHARED_KEY),
                "licensespring_client_id": None,
                "licensespring_client_secret": None,
                "licensespring_products": list(seed.USER_PRODUCTS),
                "default_product": seed.USER_PRODUCTS[0],
                "database_url": f"sqlite+aiosqlite:///{database}",
                "licensespring_webhook_secret": _secret(webhook_secret),
                "alert_poll_interval": 3600,  # every alert in the demo comes from a webhook
            }
        )
        bot_url = stack.enter_context(
            serve_in_thread(
                create_server(lambda: start_runtime(bot_settings, with_worker=True)),
                port=bot_port,
            )
        )
        http = stack.enter_context(httpx.Client(timeout=RESPONSE_TIMEOUT_S))
        yield DemoSession(slack, f"{bot_url}/slack/events", signing_secret, http, sandbox_url)


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


class BuilderLinks:
    """How each answer's Block Kit Builder link is printed.

    On a terminal the link is a short OSC 8 hyperlink, and every full URL (about 2,000
    characters each) goes once into `path`; elsewhere (a pipe, a file, CI) the full URL is
    printed, as nothing there can click a hyperlink.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        if path is not None:
            path.write_text("Block Kit Builder links from `python -m bot demo`\n\n", "utf-8")

    def line(self, command: str, message: Message) -> str:
        url = block_kit_builder_url(message)
        if self.path is None:
            return f"Open the same blocks in Block Kit Builder:\n  {url}"
        self.count += 1
        with self.path.open("a", encoding="utf-8") as links:
            links.write(f"{self.count}. /license-users {command}\n{url}\n\n")
        link = hyperlink(url, "Open the same blocks in Block Kit Builder")
        return f"{link} (full URL: link {self.count} in {self.path})"


def hyperlink(url: str, label: str) -> str:
    """An OSC 8 terminal hyperlink: `label` shown, `url` opened on click."""
    return f"\x1b]8;;{url}\x1b\\{label}\x1b]8;;\x1b\\"


def show(
    out: TextIO,
    text: str,
    message: Message,
    ack_ms: float,
    answer_ms: float,
    links: BuilderLinks | None = None,
) -> None:
    out.write(f"\n$ /license-users {text}\n")
    out.write(f"  (ack {ack_ms:.0f} ms, answer {answer_ms:.0f} ms)\n\n")
    rendered = render_for_terminal(message)
    out.write("\n".join("  " + line for line in rendered.splitlines()) + "\n")
    out.write(f"\n  {(links or BuilderLinks(None)).line(text, message)}\n")


LINKS_FILE_NAME = "license-users-bot-demo-links.txt"


def show_live_alert(session: DemoSession, out: TextIO) -> None:
    """A watch, a change in LicenseSpring, and the alert its webhook brings seconds later."""
    from bot.demo.live_alert import live_alert

    try:
        steps = live_alert(session)
    except (TimeoutError, httpx.HTTPError) as error:
        out.write(f"\n(live alert part skipped: {error})\n")
        return
    for step in steps:
        out.write(step)


def show_workflow_step(session: DemoSession, out: TextIO) -> None:
    """The Workflow Builder step run once, and the outputs it completed with."""
    from bot.demo.workflow_step import workflow_step

    try:
        lines = workflow_step(session)
    except (AssertionError, httpx.HTTPError) as error:
        out.write(f"\n(workflow step part skipped: {error})\n")
        return
    out.writelines(lines)


def run_demo(
    settings: Settings,
    *,
    commands: Sequence[str] = SAMPLE_COMMANDS,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    out.write(
        "license-users-bot demo: the real bot, a sandbox License API and a local Slack "
        "stand-in, all on this machine.\nNo credentials are configured, so nothing leaves it.\n"
    )
    links = BuilderLinks(Path(tempfile.gettempdir()) / LINKS_FILE_NAME if out.isatty() else None)
    with demo_session(settings) as session:
        for text in commands:
            show(out, text, *session.send(text), links)
        show_live_alert(session, out)
        show_workflow_step(session, out)
        if not stdin.isatty():
            out.write("\nDemo finished. Set SLACK_* and LICENSESPRING_* to run for real.\n")
            return 0
        out.write(
            "\nType more commands (e.g. `acme-desktop fresh@example.com`, "
            "`bigcorp@example.com`, `help`); an empty line or Ctrl-D quits.\n"
        )
        while True:
            out.write("/license-users ")
            out.flush()
            line = stdin.readline()
            if not line.strip():
                return 0
            show(out, line.strip(), *session.send(line.strip()), links)
