"""The demo's Workflow Builder step: one `function_executed` in, its completion out.

Slack sends the event with a just-in-time token for the execution; the bot looks the
customer up and completes the step with that token, which the local Slack stand-in records.
"""

from __future__ import annotations

import json

from bot.demo.session import DemoSession
from bot.demo.slack_requests import function_executed_body, post_signed_sync
from bot.sandbox import seed
from bot.slack.steps.lookup_step import CALLBACK_ID

STEP_TIMEOUT_S = 15.0
EXECUTION_ID = "FxDEMO1"


def workflow_step(session: DemoSession) -> list[str]:
    """Run the step once; the lines that show its inputs and the completion it produced."""
    inputs = {
        "customer_email": seed.TYPICAL,
        "product": seed.USER_PRODUCTS[0],
        "requested_by": "UDEMO",
    }
    token = session.slack.new_function_token()
    body = function_executed_body(
        inputs,
        bot_access_token=token,
        function_execution_id=EXECUTION_ID,
        workflow_execution_id="WfDEMO1",
        callback_id=CALLBACK_ID,
        event_id="EvDEMOSTEP1",
    )
    ack = post_signed_sync(session.http, session.events_url, body, secret=session.signing_secret)
    ack.raise_for_status()
    done = session.slack.wait_for_completion(EXECUTION_ID, timeout=STEP_TIMEOUT_S)
    sent_with = "the execution's own token" if done.token == token else "another token"
    result = done.args.get("outputs") if "outputs" in done.args else done.args.get("error")
    lines = [
        f"\n$ Workflow Builder runs the step `{CALLBACK_ID}` (function_executed)\n",
        f"  inputs: {json.dumps(inputs)}\n",
        f"  -> {done.method} ({sent_with}, {token[:9]}…):\n",
    ]
    shown = json.dumps(result, indent=2, ensure_ascii=False)
    lines.extend(f"  {line}\n" for line in shown.splitlines())
    return lines
