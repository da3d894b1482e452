"""The Workflow Builder step `lookup_license_users`, end to end: a signed `function_executed`
event into the real app over loopback, the sandbox License API behind it, and the completion
the fake Slack records, with the token it was sent with."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.demo.fake_slack import SlackCall
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.slack.steps import lookup_step
from bot.slack.steps.inputs import MISSING_EMAIL_TEXT
from bot.store import AuditEntry
from tests.slack.threads.test_threads import audit_rows, wait_until
from tests.slack_harness import BotFactory, RunningBot

PRODUCT = "acme-desktop"
PRODUCTS = ["acme-desktop", "acme-cli"]
COUNTS = (
    "users",
    "active_users",
    "activations_used",
    "activations_max",
    "at_activation_limit",
    "on_initial_password",
)


def completion(bot: RunningBot, execution_id: str = "Fx1", timeout: float = 10.0) -> SlackCall:
    return bot.slack.wait_for_completion(execution_id, timeout=timeout)


def step_rows(bot: RunningBot, settings_url: str) -> list[AuditEntry]:
    return [row for row in audit_rows(settings_url) if row.detail == "workflow"]


def database_url(bot: RunningBot) -> str:
    return str(bot.server.state.runtime.settings.database_url)


def test_a_run_completes_with_the_counts_using_the_executions_token(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    ack, token = bot.run_step(
        {"customer_email": seed.TYPICAL, "product": PRODUCT, "requested_by": "U111"},
        workflow_execution_id="Wf42",
    )
    assert ack.status_code == 200
    done = completion(bot)
    assert done.method == "functions.completeSuccess"
    assert done.headers["authorization"] == f"Bearer {token}"
    assert token.startswith("xwfp-") and token != bot.slack.bot_token
    outputs = done.args["outputs"]
    assert outputs["customer_email"] == seed.TYPICAL
    assert outputs["customer_name"] == "Ada Lovelace"
    assert {name: outputs[name] for name in COUNTS} == {
        "users": 8,
        "active_users": 6,
        "activations_used": 12,
        "activations_max": 23,
        "at_activation_limit": 1,
        "on_initial_password": 1,
    }
    assert "seats_used" not in outputs and "seats_max" not in outputs

    # The summary is the text of the reply a person gets for the same lookup.
    _, url = bot.command(f"{PRODUCT} {seed.TYPICAL}")
    assert outputs["summary"] == bot.final_response(url)["text"]

    [row] = step_rows(bot, database_url(bot))
    assert (row.action, row.outcome, row.slack_user) == ("lookup", "ok", "U111")
    assert (row.reference, row.product, row.customer_email) == ("Wf42", PRODUCT, seed.TYPICAL)


@pytest.mark.parametrize("inputs", [{}, {"customer_email": ""}, {"customer_email": "   "}])
def test_a_missing_or_empty_customer_email_fails_with_how_to_map_it(
    start_bot: BotFactory, sandbox: SandboxState, inputs: dict[str, Any]
) -> None:
    bot = start_bot()
    _, token = bot.run_step(inputs)
    done = completion(bot)
    assert done.method == "functions.completeError"
    assert done.args["error"] == MISSING_EMAIL_TEXT
    assert done.token == token
    assert sandbox.lookups == 0
    [row] = step_rows(bot, database_url(bot))
    assert (row.action, row.outcome, row.slack_user) == ("lookup", "bad_input", "workflow")


def test_a_value_that_is_not_an_email_fails_like_the_command(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.run_step({"customer_email": "not-an-email", "product": PRODUCT})
    done = completion(bot)
    assert done.method == "functions.completeError"
    assert done.args["error"] == ":x: `not-an-email` is not a valid e-mail address."
    assert sandbox.lookups == 0


def test_an_unknown_product_fails_with_the_known_products(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    bot.run_step({"customer_email": seed.TYPICAL, "product": "acme-nope"})
    done = completion(bot)
    assert done.method == "functions.completeError"
    assert done.args["error"] == (
        ":x: Unknown product `acme-nope`. Known products: `acme-desktop`, `acme-cli`."
    )
    assert sandbox.lookups == 0


def test_a_product_licensespring_does_not_know_fails_with_its_sentence(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()  # no product list: LicenseSpring is the judge
    bot.run_step({"customer_email": seed.TYPICAL, "product": "acme-nope"})
    done = completion(bot)
    assert done.method == "functions.completeError"
    _, url = bot.command(f"acme-nope {seed.TYPICAL}")
    assert done.args["error"] == bot.final_response(url)["text"]
    assert "`acme-nope`" in done.args["error"]


def test_a_key_based_product_fails_saying_it_is_not_user_based(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.run_step({"customer_email": seed.TYPICAL, "product": seed.KEY_PRODUCT})
    done = completion(bot)
    assert done.method == "functions.completeError"
    _, url = bot.command(f"{seed.KEY_PRODUCT} {seed.TYPICAL}")
    assert done.args["error"] == bot.final_response(url)["text"]
    assert "user-based" in done.args["error"]


def test_an_unknown_customer_fails_with_the_sentence_a_person_reads(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.run_step({"customer_email": "nobody@example.com", "product": PRODUCT})
    done = completion(bot)
    assert done.method == "functions.completeError"
    _, url = bot.command(f"{PRODUCT} nobody@example.com")
    assert done.args["error"] == bot.final_response(url)["text"]


def test_a_customer_with_no_users_completes_with_zeros(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.run_step({"customer_email": seed.EMPTY, "product": PRODUCT})
    outputs = completion(bot).args["outputs"]
    assert {name: outputs[name] for name in COUNTS} == dict.fromkeys(COUNTS, 0)
    assert outputs["summary"].endswith("no license users")


def test_a_customer_with_50000_users_completes_with_counts_not_the_list(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    bot.run_step({"customer_email": seed.HUGE, "product": PRODUCT})
    done = completion(bot, timeout=30)
    outputs = done.args["outputs"]
    assert outputs["users"] == seed.HUGE_USER_COUNT
    assert all(isinstance(outputs[name], int) for name in COUNTS)
    sent = json.dumps(done.args)
    assert len(sent) < 2_000, "the outputs must be counts, never the users"
    assert "@huge.example" not in sent  # no license user's e-mail


def test_every_configured_product_is_looked_up_when_none_is_given(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(licensespring_products=PRODUCTS)
    bot.run_step({"customer_email": seed.TYPICAL})
    outputs = completion(bot).args["outputs"]
    assert sandbox.lookups == 2
    assert outputs["summary"].startswith(f"License users for {seed.TYPICAL}: acme-desktop: ")
    assert "acme-cli: " in outputs["summary"]


def test_a_hung_license_api_fails_the_step_within_the_lookup_deadline(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    deadline = 3.0
    bot = start_bot(
        lookup_deadline=deadline, licensespring_max_retries=20, licensespring_read_timeout=10.0
    )
    sandbox.set_fault(latency_ms=120_000)
    started = time.monotonic()
    bot.run_step({"customer_email": seed.TYPICAL, "product": PRODUCT})
    done = completion(bot, timeout=20)
    elapsed = time.monotonic() - started
    assert done.method == "functions.completeError"
    assert elapsed <= deadline + 1.0, f"the step failed {elapsed:.2f} s after the event"
    assert elapsed >= deadline - 1.0, "the lookup gave up long before its deadline"
    assert done.args["error"].startswith(":hourglass: LicenseSpring did not answer")
    assert done.args["error"].endswith("Reference: `Wf1`")


def test_a_failing_complete_success_is_retried_and_never_completed_twice(
    start_bot: BotFactory, sandbox: SandboxState, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = start_bot()
    bot.slack.fail_next("functions.completeSuccess", status=500, times=2)
    bot.run_step({"customer_email": seed.TYPICAL, "product": PRODUCT})
    done = completion(bot)
    assert done.method == "functions.completeSuccess"
    attempts = bot.slack.calls("functions.completeSuccess")
    assert [call.status for call in attempts] == [500, 500, 200]
    assert len({call.token for call in attempts}) == 1
    time.sleep(0.5)
    assert len(bot.slack.function_completions("Fx1")) == 1
    assert bot.slack.calls("functions.completeError") == []
    failures = [e for e in log_events(capsys) if e.get("event") == "step_completion_failed"]
    assert [(e["attempt"], e["status"], e["retrying"]) for e in failures] == [
        (1, 500, True),
        (2, 500, True),
    ]


def test_a_complete_success_that_keeps_failing_is_given_up_without_a_complete_error(
    start_bot: BotFactory, sandbox: SandboxState, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = start_bot()
    bot.slack.fail_next("functions.completeSuccess", status=503, times=10)
    bot.run_step({"customer_email": seed.TYPICAL, "product": PRODUCT})
    attempts = bot.slack.wait_for_calls(
        "functions.completeSuccess", count=lookup_step.COMPLETION_ATTEMPTS, timeout=10
    )
    events: list[dict[str, Any]] = []

    def abandoned() -> bool:
        events.extend(log_events(capsys))
        return any(e.get("event") == "step_completion_abandoned" for e in events)

    wait_until(abandoned)
    time.sleep(0.3)
    assert len(bot.slack.calls("functions.completeSuccess")) == len(attempts)
    assert bot.slack.calls("functions.completeError") == []
    assert bot.slack.function_completions() == []


def log_events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON log lines written so far in this test."""
    events = []
    for line in capsys.readouterr().err.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            events.append(parsed)
    return events


def test_a_redelivered_event_completes_the_execution_once(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot()
    inputs = {"customer_email": seed.TYPICAL, "product": PRODUCT}
    _, token = bot.run_step(inputs, event_id="EvSame")
    completion(bot)
    # The same delivery again, then the same execution under a new event id.
    assert bot.run_step(inputs, event_id="EvSame", token=token)[0].status_code == 200
    assert bot.run_step(inputs, event_id="EvOther", token=token)[0].status_code == 200
    time.sleep(1.0)
    assert len(bot.slack.function_completions("Fx1")) == 1
    assert len(bot.slack.calls("functions.completeSuccess")) == 1
    assert sandbox.lookups == 1


def test_a_requested_by_the_lists_refuse_fails_audited_without_a_lookup(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_user_ids=["U111"])
    bot.run_step(
        {"customer_email": seed.TYPICAL, "product": PRODUCT, "requested_by": "U999"},
        workflow_execution_id="WfRefused",
    )
    done = completion(bot)
    assert done.method == "functions.completeError"
    assert done.args["error"] == lookup_step.NOT_ALLOWED_TEXT.format(user="<@U999>")
    assert sandbox.lookups == 0
    [row] = step_rows(bot, database_url(bot))
    assert (row.action, row.outcome, row.slack_user) == ("refused", "user_not_allowed", "U999")
    assert row.reference == "WfRefused"
    assert bot.slack.calls("chat.postEphemeral") == []


def test_a_requested_by_that_is_no_user_id_is_refused_as_inert_text(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_user_ids=["U111"])
    bot.run_step({"customer_email": seed.TYPICAL, "requested_by": "U1> <!channel"})
    error = completion(bot).args["error"]
    assert error.startswith(":no_entry: `U1&gt; &lt;!channel` is not allowed")
    assert sandbox.lookups == 0


def test_a_channel_list_alone_also_needs_requested_by(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_channel_ids=["COK"])
    bot.run_step({"customer_email": seed.TYPICAL, "product": PRODUCT})
    assert completion(bot).args["error"] == lookup_step.MISSING_REQUESTED_BY_TEXT
    assert sandbox.lookups == 0


def test_a_run_without_requested_by_fails_when_lists_are_set(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    bot = start_bot(allowed_usergroup_ids=["S1"])
    bot.slack.set_usergroup("S1", ["U111"])
    bot.run_step({"customer_email": seed.TYPICAL, "product": PRODUCT})
    done = completion(bot)
    assert done.method == "functions.completeError"
    assert done.args["error"] == lookup_step.MISSING_REQUESTED_BY_TEXT
    assert "*Requested by*" in done.args["error"]
    assert sandbox.lookups == 0
    [row] = step_rows(bot, database_url(bot))
    assert (row.action, row.outcome) == ("refused", "requested_by_missing")


def test_the_steps_guard_checks_the_lists_for_requested_by() -> None:
    """The step's reader parses the inputs once; the lists are checked for `requested_by`."""
    from bot.demo.slack_requests import function_executed_body
    from bot.slack.core.context import actor_of
    from bot.slack.steps.lookup_step import read_step
    from tests.conftest import sandbox_settings

    body = json.loads(function_executed_body({"requested_by": "U999"}, bot_access_token="x"))
    assert actor_of(body) is None  # no person sent the event
    understood = read_step(body, None, sandbox_settings("http://sandbox.invalid"))
    assert understood.user == "U999"


def test_an_allowed_requested_by_passes_the_access_lists(
    start_bot: BotFactory, sandbox: SandboxState
) -> None:
    """The lists are checked for `requested_by` (here a user group member)."""
    bot = start_bot(allowed_user_ids=["U222"], allowed_usergroup_ids=["S1"])
    bot.slack.set_usergroup("S1", ["U111"])
    bot.run_step({"customer_email": seed.TYPICAL, "product": PRODUCT, "requested_by": "U111"})
    assert completion(bot).method == "functions.completeSuccess"
    assert sandbox.lookups == 1
