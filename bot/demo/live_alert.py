"""The demo's live alert: watch a customer, change it in the sandbox, show the alert.

The sandbox sends the signed webhook LicenseSpring would; the bot's in-process poller checks
the watch within seconds although the poll interval is an hour.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from bot.demo.session import DemoSession
from bot.demo.slack_requests import post_signed_sync, slash_command_body
from bot.demo.terminal import render_for_terminal
from bot.rendering.blocks import Message
from bot.sandbox import seed

CHANNEL = "CDEMOALERTS"
PRODUCT = seed.USER_PRODUCTS[0]
CUSTOMER = seed.TYPICAL
CHANGED_USER = "charles.babbage@analytical.example"  # 1 of 3 activations in the seed
ALERT_TIMEOUT_S = 10.0


def _posts(session: DemoSession) -> list[Any]:
    return [
        call
        for call in session.slack.calls("chat.postMessage")
        if call.args.get("channel") == CHANNEL and call.response.get("ok")
    ]


def _wait_posts(session: DemoSession, count: int) -> list[Any]:
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while time.monotonic() < deadline:
        posts = _posts(session)
        if len(posts) >= count:
            return posts
        time.sleep(0.02)
    raise TimeoutError(f"no alert in {ALERT_TIMEOUT_S:.0f} s")


def _indent(message: Message) -> str:
    return "\n".join("  " + line for line in render_for_terminal(message).splitlines()) + "\n"


def _message(call: Any) -> Message:
    return Message(text=str(call.args.get("text", "")), blocks=list(call.args.get("blocks") or []))


def live_alert(session: DemoSession) -> Iterator[str]:
    session.slack.set_channel(CHANNEL)
    text = f"watch {PRODUCT} {CUSTOMER}"
    yield f"\n$ /license-users {text}   (in #demo-alerts)\n"
    response_url = session.slack.new_response_url()
    body = slash_command_body(text, response_url=response_url, user_id="UDEMO", channel_id=CHANNEL)
    post_signed_sync(
        session.http, session.events_url, body, secret=session.signing_secret
    ).raise_for_status()
    rid = response_url.rsplit("/", 1)[1]
    reply = session.slack.wait_for_responses(1, response_id=rid, timeout=ALERT_TIMEOUT_S)[-1]
    yield "  " + str(reply.body.get("text", "")) + "\n"
    [confirmation] = _wait_posts(session, 1)[:1]
    yield "\n  Posted in #demo-alerts:\n" + _indent(_message(confirmation))

    yield (
        f"\n  Now {CHANGED_USER} activates two more devices. The sandbox (as LicenseSpring "
        "would) signs and sends a `license.activated` webhook; the poll interval is an hour.\n"
    )
    changed_at = time.time()
    session.http.patch(
        f"{session.sandbox_url}/_sandbox/customers/{PRODUCT}/{CUSTOMER}/users/{CHANGED_USER}",
        json={"total_activations": 3},
    ).raise_for_status()
    alert = _wait_posts(session, 2)[1]
    seconds = alert.received_at - changed_at
    yield f"\n  Posted in #demo-alerts {seconds:.1f} s after the change:\n" + _indent(
        _message(alert)
    )
