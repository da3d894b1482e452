"""HTTP mode: a Starlette app that hands Slack's requests to Bolt, plus health checks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.httpbody import read_limited_body
from bot.serving import Served
from bot.store.watches import OUTBOX_STATUSES
from bot.webhooks.endpoint import WEBHOOK_PATH, licensespring_webhook

log = structlog.get_logger("server")

# Slack's payloads are a few KB; a large message shortcut or view is well under 1 MB.
MAX_BODY_BYTES = 1_000_000
EVENTS_PATH = "/slack/events"

RuntimeFactory = Callable[[], Awaitable[Served]]


async def slack_events(request: Request) -> Response:
    runtime: Served = request.app.state.runtime
    try:
        body = await read_limited_body(request, MAX_BODY_BYTES)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return PlainTextResponse("request body too large", status_code=413)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return PlainTextResponse("request body is not UTF-8", status_code=400)
    bolt_request = to_async_bolt_request(request, body)
    bolt_response = await runtime.app.async_dispatch(bolt_request)
    runtime.metrics.acks.labels(_kind(bolt_request.body), str(bolt_response.status)).inc()
    return to_starlette_response(bolt_response)


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    kind = body.get("type")
    return kind if isinstance(kind, str) and kind.isidentifier() else "other"


async def healthz(_: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready for traffic: the store answers (settings were valid, or we would not be running)."""
    runtime: Served = request.app.state.runtime
    if not await runtime.store.ping():
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "store": runtime.store.dialect})


async def metrics(request: Request) -> Response:
    runtime: Served = request.app.state.runtime
    try:
        counts = await runtime.store.watches.alerts_by_status()
    except Exception:  # noqa: BLE001 - metrics must render even when the store is down
        counts = {}
    for status in OUTBOX_STATUSES:
        runtime.metrics.alerts.labels(status).set(counts.get(status, 0))
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_server(build_runtime: RuntimeFactory) -> Starlette:
    """The ASGI app; the runtime (store, clients, Bolt app) is built at start-up, closed at exit."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await build_runtime()
        app.state.runtime = runtime
        log.info("ready", path=EVENTS_PATH)
        try:
            yield
        finally:
            await runtime.aclose()
            log.info("stopped")

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route(WEBHOOK_PATH, licensespring_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
