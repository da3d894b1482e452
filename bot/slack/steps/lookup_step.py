"""The Workflow Builder step `lookup_license_users` (Bolt `app.function`).

Slack sends `function_executed`; Bolt acknowledges it at once, and this listener runs the
same lookup a person's command runs (same service, cache, deadline and audit), then ends
the execution exactly once: `functions.completeSuccess` with the counts, or
`functions.completeError` with the sentence a person would read. Both go out with the
execution's own token (Bolt puts it on `complete`/`fail`'s client).

Access is decided here, from the step's `requested_by` input: the global access middleware
sees no person in a `function_executed` event and lets it through (see `bot.slack.access`).
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.audit import Actor
from bot.lookup import LookupOutcome, new_reference
from bot.rendering.blocks import SummaryButtons
from bot.rendering.mrkdwn import escape_within
from bot.rendering.step_outputs import StepOutputs, step_outputs
from bot.slack.access import AccessPolicy
from bot.slack.errors import INTERNAL_ERROR_TEXT
from bot.slack.replies import lookup_error_text, lookup_message, needs_reference
from bot.slack.services import Services
from bot.slack.steps.inputs import StepInputError, StepRequest, parse_step_inputs
from bot.summary import Summary
from bot.tasks import TaskTracker
from bot.userlist import UserQuery

log = structlog.get_logger("slack.steps")

CALLBACK_ID = "lookup_license_users"
SURFACE = "workflow"
WORKFLOW_ACTOR = "workflow"
"""The audit row's user when the run has no `requested_by` (nobody named)."""

NOT_ALLOWED_TEXT = (
    ":no_entry: {user} is not allowed to look up license users, so this step did not run. "
    "Ask whoever runs this bot to add them (ALLOWED_USER_IDS or ALLOWED_USERGROUP_IDS)."
)
MISSING_REQUESTED_BY_TEXT = (
    ":no_entry: This bot only answers for allowed people, and the step was not told who "
    "the workflow acts for. In Workflow Builder, set the step's *Requested by* to the person "
    "who started the workflow (e.g. the form's submitter)."
)
# A customer absent from one of several products is an answer, not a failure of the run.
_ABSENT_CODES = frozenset(
    {"customer_does_not_exist", "customer_not_found", "invalid_product_auth_method"}
)
_TRANSIENT_SLACK_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
COMPLETION_ATTEMPTS = 4
COMPLETION_BACKOFF_S = 0.25  # doubled after each failed attempt: 0.25, 0.5, 1 s
_REMEMBERED_EXECUTIONS = 10_000
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def register(app: AsyncApp, tasks: TaskTracker) -> None:
    step = LookupStep(app.client)
    app.function(CALLBACK_ID)(tasks.listener(step.run))


class LookupStep:
    """The listener, with what outlives a request: the access policy and executions seen."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client  # the bot token's client: reads user groups for the policy
        self._policy: AccessPolicy | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def run(
        self, event: dict[str, Any], complete: AsyncComplete, fail: AsyncFail, services: Services
    ) -> None:
        execution_id = str(event.get("function_execution_id") or "")
        reference = str(event.get("workflow_execution_id") or execution_id or new_reference())
        structlog.contextvars.bind_contextvars(
            reference=reference, surface=SURFACE, function_execution_id=execution_id
        )
        if not await self._first_run(execution_id, services):
            log.info("duplicate_execution_ignored")
            return
        ending = _Ending(complete, fail)
        try:
            await self._answer(event, ending, services, reference)
        except Exception as error:  # a bug: still end the execution, once
            log.error("step_failed", error_type=type(error).__name__, exc_info=error)
            if not ending.attempted:
                await ending.fail(f"{INTERNAL_ERROR_TEXT} Reference: `{reference}`")

    async def _answer(
        self, event: dict[str, Any], ending: _Ending, services: Services, reference: str
    ) -> None:
        settings = services.settings
        raw_inputs = event.get("inputs")
        inputs = raw_inputs if isinstance(raw_inputs, dict) else {}
        parsed = parse_step_inputs(
            inputs,
            products=settings.licensespring_products,
            default_product=settings.default_product,
        )
        actor = Actor(parsed.requested_by or WORKFLOW_ACTOR, None)
        structlog.contextvars.bind_contextvars(slack_user=parsed.requested_by)
        refusal = await self._refusal(parsed.requested_by, services)
        if refusal is not None:
            text, reason = refusal
            await services.auditor.record(
                actor,
                "refused",
                outcome=reason,
                customer_email=parsed.email,
                reference=reference,
                detail=SURFACE,
            )
            await ending.fail(text)
            return
        if isinstance(parsed, StepInputError):
            await services.auditor.record(
                actor,
                "lookup",
                outcome="bad_input",
                customer_email=parsed.email,
                reference=reference,
                detail=SURFACE,
            )
            await ending.fail(parsed.text)
            return
        outcomes = await services.lookups.lookup(
            parsed.products,
            parsed.email,
            surface=SURFACE,
            reference=reference,
            actor=actor,
            query=UserQuery(parsed.search),
        )
        outputs = _outputs(outcomes, parsed, services)
        if outputs is None:
            await ending.fail(_failure_text(outcomes, parsed, services, reference))
        else:
            await ending.complete(outputs)

    async def _refusal(
        self, requested_by: str | None, services: Services
    ) -> tuple[str, str] | None:
        if self._policy is None:
            self._policy = AccessPolicy(services.settings, self._client)
        if not self._policy.restricts_users:
            return None
        if requested_by is None:
            return MISSING_REQUESTED_BY_TEXT, "requested_by_missing"
        if not await self._policy.user_allowed(requested_by):
            return NOT_ALLOWED_TEXT.format(user=_named(requested_by)), "user_not_allowed"
        return None

    async def _first_run(self, execution_id: str, services: Services) -> bool:
        """False for an execution this process, or another sharing the store, already ran."""
        if not execution_id:
            return True
        if execution_id in self._seen:
            return False
        self._seen[execution_id] = None
        if len(self._seen) > _REMEMBERED_EXECUTIONS:
            self._seen.popitem(last=False)
        if services.store is None:
            return True
        try:
            return await services.store.claim_event(f"function_execution:{execution_id}")
        except (SQLAlchemyError, OSError) as error:
            log.warning("execution_guard_unavailable", error=type(error).__name__)
            return True  # this process's own memory still guards it


def _named(user_id: str) -> str:
    """A mention of a Slack user id; anything else shown as inert text."""
    if _USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return "`" + escape_within(user_id.replace("`", "'"), 40) + "`"


def _outputs(
    outcomes: list[LookupOutcome], request: StepRequest, services: Services
) -> StepOutputs | None:
    """The outputs, or None when the run must fail: nothing answered, or a product failed
    for a reason other than the customer's absence from it."""
    if not any(o.ok for o in outcomes):
        return None
    if any(o.error is not None and o.error.code not in _ABSENT_CODES for o in outcomes):
        return None
    results: list[tuple[str, Summary | str]] = []
    for outcome in outcomes:
        if outcome.summary is not None:
            results.append((outcome.product, outcome.summary))
        else:
            assert outcome.error is not None
            results.append(
                (
                    outcome.product,
                    lookup_error_text(
                        outcome.error,
                        product=outcome.product,
                        email=request.email,
                        known_products=services.settings.licensespring_products,
                    ),
                )
            )
    return step_outputs(
        results,
        lookup_email=request.email,
        selection=outcomes[0].selection if len(outcomes) == 1 else None,
        query=UserQuery(request.search),
    )


def _failure_text(
    outcomes: list[LookupOutcome], request: StepRequest, services: Services, reference: str
) -> str:
    """The text of the reply a person gets for the same lookup, with its reference."""
    message = lookup_message(
        outcomes,
        email=request.email,
        known_products=services.settings.licensespring_products,
        reference=reference,
        buttons=SummaryButtons(),
        include_users=False,
    )
    if any(o.error is not None and needs_reference(o.error) for o in outcomes):
        return f"{message.text} Reference: `{reference}`"
    return message.text


class _Ending:
    """Ends one execution: one completion, retried while Slack's failure may pass."""

    def __init__(self, complete: AsyncComplete, fail: AsyncFail) -> None:
        self._complete = complete
        self._fail = fail
        self.attempted = False

    async def complete(self, outputs: StepOutputs) -> bool:
        return await self._send("complete", lambda: self._complete(outputs=dict(outputs)))

    async def fail(self, text: str) -> bool:
        return await self._send("fail", lambda: self._fail(error=text))

    async def _send(self, how: str, call: Callable[[], Awaitable[Any]]) -> bool:
        if self.attempted:
            log.error("second_completion_refused", completion=how)
            return False
        self.attempted = True
        for attempt in range(1, COMPLETION_ATTEMPTS + 1):
            try:
                await call()
            except SlackApiError as error:
                code = str(error.response.get("error") or "")
                status = int(error.response.status_code)
                retry = status >= 500 or code in _TRANSIENT_SLACK_ERRORS
                log.warning(
                    "step_completion_failed",
                    completion=how,
                    attempt=attempt,
                    error=code,
                    status=status,
                    retrying=retry and attempt < COMPLETION_ATTEMPTS,
                )
                if not retry:
                    return False
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                log.warning(
                    "step_completion_failed",
                    completion=how,
                    attempt=attempt,
                    error=type(error).__name__,
                    retrying=attempt < COMPLETION_ATTEMPTS,
                )
            else:
                log.info("step_completed", completion=how, attempts=attempt)
                return True
            if attempt < COMPLETION_ATTEMPTS:
                await asyncio.sleep(COMPLETION_BACKOFF_S * 2 ** (attempt - 1))
        log.error("step_completion_abandoned", completion=how, attempts=COMPLETION_ATTEMPTS)
        return False
