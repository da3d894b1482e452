"""The sandbox sends LicenseSpring-style webhooks: signed, retried, one event per POST.

Configured with a target URL and secret (`--webhook-url`, `--webhook-secret`, or at run time
`POST /_sandbox/webhooks`). Deliveries run in the sandbox server's event loop; a delivery
that fails (connection error, 429 or 5xx) is retried with backoff, as LicenseSpring would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from bot.webhooks.signature import sign

log = structlog.get_logger("sandbox.webhooks")

DEFAULT_HEADER = "LicenseSpring-Signature"
SANDBOX_COMPANY_ID = 1001
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)  # after the first attempt: five attempts in all


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: str
    header: str = DEFAULT_HEADER


def envelope(code: str, data: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """One event as LicenseSpring sends it (objects that do not apply are left out)."""
    return {
        "id": str(uuid.uuid4()),
        "event": code,
        "company_id": SANDBOX_COMPANY_ID,
        "user_id": None,
        "ts": int(now if now is not None else time.time()),
        "data": data,
    }


class WebhookSender:
    def __init__(self, target: WebhookTarget | None = None) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.reset_counters()

    def reset_counters(self) -> None:
        with self._lock:
            self.sent = 0  # events
            self.attempts = 0
            self.delivered = 0
            self.failed = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "target": self.target.url if self.target else None,
                "sent": self.sent,
                "attempts": self.attempts,
                "delivered": self.delivered,
                "failed": self.failed,
                "in_flight": len(self._tasks),
            }

    def send(self, code: str, data: dict[str, Any]) -> str | None:
        """Queue one event for delivery (call from the server's loop); its id, or None."""
        target = self.target
        if target is None:
            return None
        event = envelope(code, data)
        body = json.dumps(event, separators=(",", ":")).encode()
        with self._lock:
            self.sent += 1
        task = asyncio.get_running_loop().create_task(self._deliver(target, body, event["id"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return str(event["id"])

    async def _deliver(self, target: WebhookTarget, body: bytes, event_id: str) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        for delay in (0.0, *RETRY_DELAYS_S):
            if delay:
                await asyncio.sleep(delay)
            with self._lock:
                self.attempts += 1
            headers = {
                "Content-Type": "application/json",
                # signed at each attempt, as the timestamp must be fresh
                target.header: sign(target.secret, body, int(time.time())),
            }
            try:
                response = await self._http.post(target.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                log.info("webhook_attempt_failed", event_id=event_id, error=type(error).__name__)
                continue
            if response.status_code < 300:
                with self._lock:
                    self.delivered += 1
                return
            log.info("webhook_attempt_refused", event_id=event_id, status=response.status_code)
            if response.status_code < 500 and response.status_code != 429:
                break
        with self._lock:
            self.failed += 1

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
