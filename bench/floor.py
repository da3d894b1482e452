"""The floor app: the bot's stack with a `/license-users` handler that only acks.

`python -m bench.floor --port P`: a slack-bolt AsyncApp (same signing-secret verification,
same single-workspace authorization through `auth.test`), served by slack-bolt's Starlette
adapter at `POST /slack/events` with `GET /healthz`, under uvicorn with the bot's options.
It reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL from the environment and
imports nothing from `bot`, so it is what the framework costs on its own.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COMMAND = "/license-users"


def create_floor_app(token: str, signing_secret: str, api_url: str) -> Starlette:
    base_url = api_url if api_url.endswith("/") else api_url + "/"
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=base_url, timeout=10),
        signing_secret=signing_secret,
        logger=logging.getLogger("slack_bolt"),
        process_before_response=False,
    )

    @app.command(COMMAND)
    async def license_users(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    server = create_floor_app(
        os.environ["SLACK_BOT_TOKEN"],
        os.environ["SLACK_SIGNING_SECRET"],
        os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
    )
    uvicorn.run(
        server,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
