"""The sandbox sends signed webhooks for admin changes, retried, as LicenseSpring would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.demo.servers import serve_in_thread
from bot.sandbox import seed
from bot.sandbox.app import SandboxState
from bot.webhooks.signature import verify

SECRET = "whsec_sandbox_test"
PRODUCT = "acme-desktop"


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self._lock = threading.Lock()

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                return Response(status_code=503)
            self.received.append((dict(request.headers), body))
        return Response(status_code=202)

    def events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    break
            time.sleep(0.02)
        with self._lock:
            received = list(self.received)
        assert len(received) >= count, received
        events = []
        for headers, body in received:
            verify(headers.get("licensespring-signature"), body, SECRET, now=time.time())
            events.append(json.loads(body))
        return events


@pytest.fixture
def receiver(sandbox: SandboxState, sandbox_url: str) -> Iterator[Receiver]:
    hooks = Receiver()
    app = Starlette(routes=[Route("/hooks", hooks.endpoint, methods=["POST"])])
    with serve_in_thread(app) as url, httpx.Client(timeout=10) as http:
        answer = http.post(
            f"{sandbox_url}/_sandbox/webhooks", json={"url": f"{url}/hooks", "secret": SECRET}
        )
        assert answer.status_code == 200
        yield hooks


@pytest.fixture
def customer(sandbox: SandboxState) -> str:
    email = "hooked@example.com"
    sandbox.set_users(
        PRODUCT,
        email,
        [seed.license_user("u1@hooked.example", "U", "One", max_activations=3)],
    )
    return email


def test_admin_changes_send_the_matching_signed_events(
    receiver: Receiver, customer: str, sandbox_url: str, sandbox: SandboxState
) -> None:
    base = f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{customer}"
    license_id = sandbox.body(PRODUCT, customer)["users"][0]["license_id"]  # type: ignore[index]
    with httpx.Client(timeout=10) as http:
        added = http.post(f"{base}/users", json={"email": "new@hooked.example"})
        assert added.status_code == 200, added.text
        assert http.patch(f"{base}/users/u1@hooked.example", json={"total_activations": 2}).json()[
            "webhooks"
        ]
        assert http.patch(f"{base}/users/u1@hooked.example", json={"total_activations": 1}).json()[
            "webhooks"
        ]
        assert http.patch(f"{base}/users/u1@hooked.example", json={"is_active": False}).json()[
            "webhooks"
        ]
        replaced = http.put(base, json={"users": []})
        assert replaced.status_code == 200
    events = receiver.events(5)
    codes = sorted(event["event"] for event in events)
    assert codes == sorted(
        [
            "license.license_user.assigned",
            "license.activated",
            "license.deactivated",
            "license.updated",
            "customer.updated",
        ]
    )
    by_code = {event["event"]: event for event in events}
    assigned = by_code["license.license_user.assigned"]
    assert assigned["data"]["license_user"]["email"] == "new@hooked.example"
    assert assigned["data"]["license"]["id"] == license_id  # assigned to the customer's license
    assert by_code["license.activated"]["data"]["license"]["times_activated"] == 2
    assert "license_user" not in by_code["license.deactivated"]["data"]
    assert by_code["customer.updated"]["data"]["customer"]["email"] == customer
    assert len({event["id"] for event in events}) == 5
    assert all(set(event) >= {"id", "event", "company_id", "ts", "data"} for event in events)
    # the changes are what the License API now answers
    users = sandbox.body(PRODUCT, customer)["users"]  # type: ignore[index]
    assert users == []


def test_failed_deliveries_are_retried(
    receiver: Receiver, customer: str, sandbox_url: str, sandbox: SandboxState
) -> None:
    receiver.fail_next = 2
    with httpx.Client(timeout=10) as http:
        http.patch(
            f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{customer}/users/u1@hooked.example",
            json={"total_activations": 3},
        ).raise_for_status()
    [event] = receiver.events(1, timeout=15)
    assert event["event"] == "license.activated"
    deadline = time.monotonic() + 5
    while sandbox.webhooks.stats()["delivered"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # the sender counts after the answer arrives
    stats = sandbox.webhooks.stats()
    assert stats["attempts"] == 3 and stats["delivered"] == 1 and stats["failed"] == 0


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("post", "/users", {"first_name": "no e-mail"}, 400),
        ("post", "/users", {"email": "u1@hooked.example"}, 409),
        ("post", "/users", {"email": "x@y.z", "max_activations": -1}, 400),
        ("patch", "/users/u1@hooked.example", {"total_activations": "2"}, 400),
        ("patch", "/users/u1@hooked.example", {"first_name": "Not allowed here"}, 400),
        ("patch", "/users/u1@hooked.example", {}, 400),
        ("patch", "/users/nobody@hooked.example", {"is_active": False}, 404),
    ],
)
def test_bad_admin_calls_are_refused_and_send_nothing(
    receiver: Receiver,
    customer: str,
    sandbox_url: str,
    sandbox: SandboxState,
    method: str,
    path: str,
    payload: dict[str, Any],
    status: int,
) -> None:
    with httpx.Client(timeout=10) as http:
        url = f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{customer}{path}"
        answer = http.request(method.upper(), url, json=payload)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"]
    time.sleep(0.2)
    assert sandbox.webhooks.stats()["sent"] == 0


def test_without_a_target_nothing_is_sent(
    customer: str, sandbox_url: str, sandbox: SandboxState
) -> None:
    with httpx.Client(timeout=10) as http:
        answer = http.patch(
            f"{sandbox_url}/_sandbox/customers/{PRODUCT}/{customer}/users/u1@hooked.example",
            json={"total_activations": 1},
        )
    assert answer.json()["webhooks"] == []
    assert sandbox.webhooks.stats()["sent"] == 0
