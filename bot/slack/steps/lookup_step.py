"""The Workflow Builder step `lookup_license_users` (Bolt `app.function`).

Slack sends `function_executed`; Bolt acknowledges it at once, and this listener runs the
same lookup a person's command runs (same service, cache, deadline and audit), then ends
the execution exactly once: `functions.completeSuccess` with the counts, or
`functions.completeError` with the sentence a person would read. Both go out with the
execution's own token (Bolt puts it on `complete`/`fail`'s client).

Access is decided by the step's guard from the same parsed inputs the listener acts on: the
lists are checked for the `requested_by` input (a run without it is refused while any list is
set); the listener ends a refused run with a sentence saying why.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.audit import Actor
from bot.config import Settings
from bot.lookup import LookupOutcome, new_reference
from bot.rendering.blocks import SummaryButtons
from bot.rendering.mrkdwn import escape_within
from bot.rendering.replies import lookup_message, needs_reference, product_results
from bot.rendering.step_outputs import StepOutputs, step_outputs
from bot.slack.core.errors import INTERNAL_ERROR_TEXT
from bot.slack.core.policy import Refusal, Understood
from bot.slack.core.routes import Routes
from bot.slack.core.services import Services
from bot.slack.steps.inputs import StepInputError, StepRequest, parse_step_inputs
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


def read_step(
    body: dict[str, Any], actor: Actor | None, settings: Settings
) -> Understood[StepRequest | StepInputError]:
    """The step's inputs, parsed once; the lists are checked for `requested_by`."""
    event = body.get("event") or {}
    raw_inputs = event.get("inputs")
    parsed = parse_step_inputs(
        raw_inputs if isinstance(raw_inputs, dict) else {},
        products=settings.licensespring_products,
        default_product=settings.default_product,
    )
    return Understood(parsed, parsed.requested_by)


def register(routes: Routes) -> None:
    routes.function(CALLBACK_ID, read_step, LookupStep().run)


class LookupStep:
    """The listener, with what outlives a request: the executions seen."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def run(
        self,
        asked: StepRequest | StepInputError,
        refusal: Refusal | None,
        event: dict[str, Any],
        complete: AsyncComplete,
        fail: AsyncFail,
        services: Services,
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
            await self._answer(asked, refusal, ending, services, reference)
        except Exception as error:  # a bug: still end the execution, once
            log.error("step_failed", error_type=type(error).__name__, exc_info=error)
            if not ending.attempted:
                await ending.fail(f"{INTERNAL_ERROR_TEXT} Reference: `{reference}`")

    async def _answer(
        self,
        parsed: StepRequest | StepInputError,
        refused: Refusal | None,
        ending: _Ending,
        services: Services,
        reference: str,
    ) -> None:
        actor = Actor(parsed.requested_by or WORKFLOW_ACTOR, None)
        structlog.contextvars.bind_contextvars(slack_user=parsed.requested_by)
        if refused is not None:
            text, reason = _refusal_text(refused, parsed.requested_by)
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


def _refusal_text(refused: Refusal, requested_by: str | None) -> tuple[str, str]:
    """The sentence a refused run fails with, and the audit row's outcome."""
    if requested_by is None:
        return MISSING_REQUESTED_BY_TEXT, "requested_by_missing"
    if refused.reason == "user_not_allowed":
        return NOT_ALLOWED_TEXT.format(user=_named(requested_by)), refused.reason
    return refused.text, refused.reason


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
    results = product_results(
        outcomes, email=request.email, known_products=services.settings.licensespring_products
    )
    return step_outputs(
        results,
        lookup_email=request.email,
        selection=outcomes[0].selection if len(outcomes) == 1 else None,
        query=UserQuery(request.search),
        seats=[o.seats for o in outcomes if o.seats is not None],
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
            except aiohttp.ClientConnectorError as error:  # never reached Slack: safe to retry
                log.warning(
                    "step_completion_failed",
                    completion=how,
                    attempt=attempt,
                    error=type(error).__name__,
                    retrying=attempt < COMPLETION_ATTEMPTS,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                # Sent, outcome unknown: Slack may have ended the execution; never send again.
                log.warning(
                    "step_completion_unconfirmed", completion=how, error=type(error).__name__
                )
                return False
            else:
                log.info("step_completed", completion=how, attempts=attempt)
                return True
            if attempt < COMPLETION_ATTEMPTS:
                await asyncio.sleep(COMPLETION_BACKOFF_S * 2 ** (attempt - 1))
        log.error("step_completion_abandoned", completion=how, attempts=COMPLETION_ATTEMPTS)
        return False
