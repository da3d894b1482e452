"""`POST /licensespring/webhooks`: verify, record once, wake the watches concerned, answer.

The answer goes out as soon as the event is recorded and its watches are marked due (two
short statements in one transaction): no lookup happens here. Whichever poller runs then
checks those watches under the usual lease, rules and outbox, so each change still posts
once whether the webhook or a poll saw it first.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.httpbody import read_limited_body
from bot.serving import Served
from bot.webhooks.events import MalformedEvent, WebhookEvent, parse_event
from bot.webhooks.signature import SignatureError, verify

log = structlog.get_logger("webhooks")

WEBHOOK_PATH: Final = "/licensespring/webhooks"
MAX_WEBHOOK_BYTES: Final = 1_000_000
# Events for one customer within this long cause one check.
WAKE_DEBOUNCE: Final = timedelta(seconds=1)
# Event ids are remembered this long; LicenseSpring's redelivery window is not documented.
EVENT_RETENTION: Final = timedelta(days=3)
PURGE_EVERY_S: Final = 600.0
ACCEPT_ATTEMPTS: Final = 3
# At most this many webhooks use the store at once, so a burst of thousands leaves the pool
# to Slack's event dedupe and /readyz; the rest queue, and past SLOT_WAIT_S get a 503
# (LicenseSpring delivers it again).
WEBHOOK_CONCURRENCY: Final = 4
SLOT_WAIT_S: Final = 10.0

ACCEPTED, DUPLICATE, IGNORED, REFUSED, UNAVAILABLE = (
    "accepted",
    "duplicate",
    "ignored",
    "refused",
    "unavailable",
)


def _answer(runtime: Served, outcome: str, status: int, message: str) -> Response:
    runtime.metrics.webhooks.labels(outcome).inc()
    return JSONResponse({"status": outcome, "message": message}, status_code=status)


async def licensespring_webhook(request: Request) -> Response:
    runtime: Served = request.app.state.runtime
    settings = runtime.settings
    secret = settings.licensespring_webhook_secret
    if secret is None:
        return PlainTextResponse("Not Found", status_code=404)
    try:
        body = await read_limited_body(request, MAX_WEBHOOK_BYTES)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        log.warning("webhook_refused", reason="too_large")
        return _answer(runtime, REFUSED, 413, "the body is larger than 1 MB")
    header = request.headers.get(settings.licensespring_webhook_signature_header)
    try:
        verify(header, body, secret.get_secret_value(), now=time.time())
    except SignatureError as error:
        log.warning("webhook_refused", reason=error.reason)
        return _answer(runtime, REFUSED, 401, "invalid signature")
    try:
        event = parse_event(body)
    except MalformedEvent as error:
        log.warning("webhook_refused", reason="malformed", detail=str(error))
        return _answer(runtime, REFUSED, 400, str(error))
    if not event.used:
        log.info("webhook_ignored", event_id=event.id, code=event.code)
        return _answer(runtime, IGNORED, 200, f"{event.code} is not used")
    slots = _store_slots(request)
    try:
        async with asyncio.timeout(SLOT_WAIT_S):
            await slots.acquire()
    except TimeoutError:
        log.warning("webhook_not_recorded", event_id=event.id, error="busy")
        return _answer(runtime, UNAVAILABLE, 503, "too many webhooks at once; retry later")
    try:
        woken = await _accept(runtime, event)
    except (SQLAlchemyError, OSError) as error:
        # Not recorded, nothing woken: a 503 makes LicenseSpring deliver it again.
        cause = getattr(error, "orig", None)
        log.error(
            "webhook_not_recorded",
            event_id=event.id,
            error=type(error).__name__,
            cause=type(getattr(cause, "__cause__", None) or cause).__name__,
            sqlstate=getattr(cause, "sqlstate", None),
        )
        return _answer(runtime, UNAVAILABLE, 503, "the store is unavailable; retry later")
    finally:
        slots.release()
    _maybe_purge(runtime)
    if woken is None:
        log.info("webhook_duplicate", event_id=event.id, code=event.code)
        return _answer(runtime, DUPLICATE, 200, "already processed")
    log.info("webhook_accepted", event_id=event.id, code=event.code, watches=woken)
    return _answer(runtime, ACCEPTED, 202, f"{len(woken)} watches to check")


def _store_slots(request: Request) -> asyncio.Semaphore:
    """The app's webhook slots, made on first use (inside the server's event loop)."""
    state = request.app.state
    slots: asyncio.Semaphore | None = getattr(state, "webhook_slots", None)
    if slots is None:
        slots = asyncio.Semaphore(WEBHOOK_CONCURRENCY)
        state.webhook_slots = slots
    return slots


async def _accept(runtime: Served, event: WebhookEvent) -> list[int] | None:
    """Record and wake, retrying a transaction the database refused (a deadlock, a dropped
    connection): it rolled back, and doing it again is safe."""
    for attempt in range(ACCEPT_ATTEMPTS):
        try:
            return await runtime.store.webhooks.accept(
                event.id,
                event.code,
                customer_emails=event.customer_emails,
                keys=event.keys,
                now=datetime.now(UTC),
                debounce=WAKE_DEBOUNCE,
            )
        except DBAPIError as error:
            if attempt + 1 >= ACCEPT_ATTEMPTS:
                raise
            log.warning("webhook_accept_retried", event_id=event.id, error=type(error).__name__)
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _maybe_purge(runtime: Served) -> None:
    now = time.monotonic()
    if now - runtime.webhooks_purged_at < PURGE_EVERY_S:
        return
    runtime.webhooks_purged_at = now

    async def purge() -> None:
        try:
            removed = await runtime.store.webhooks.purge(
                older_than=EVENT_RETENTION, now=datetime.now(UTC)
            )
        except Exception as error:  # noqa: BLE001 - housekeeping; the next purge retries
            log.warning("webhook_purge_failed", error=type(error).__name__)
        else:
            log.debug("webhook_events_purged", removed=removed)

    runtime.tasks.spawn(purge(), name="purge_webhook_events")
