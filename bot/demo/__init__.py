"""`python -m bot demo`: the real bot answering real signed commands, with no credentials at all.

The demo package also holds the local stand-ins the demo, the tests and the benchmarks run
against (a fake Slack, loopback servers, Slack-signed request builders, terminal rendering):
nothing here is used in production.

Starts, on loopback: the sandbox License API, a local Slack stand-in (Web API + response_url
receiver) and the real HTTP app. Sends Slack-signed `/license-users` commands through
`POST /slack/events` exactly as Slack would, and prints what the bot sends back.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import httpx

from bot.config import Settings
from bot.demo.session import DemoSession, demo_session
from bot.demo.terminal import block_kit_builder_url, render_for_terminal
from bot.rendering.blocks import Message
from bot.sandbox import seed

SAMPLE_COMMANDS: tuple[str, ...] = (
    f"acme-desktop {seed.TYPICAL}",
    f"acme-desktop {seed.AT_LIMIT}",
    f"acme-desktop {seed.MISCHIEF}",
    f"acme-desktop {seed.EMPTY}",
    "acme-desktop nobody@example.com",
    "acme-desktop not-an-email",
)


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
