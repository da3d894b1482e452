"""Fault injection for the sandbox: what a fault is, and the answers a failing request gets."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

MalformedKind = Literal["json", "html", "empty", "wrong_type", "gzip"]
MALFORMED_KINDS: frozenset[str] = frozenset(get_args(MalformedKind))

_FIELD_TYPES: dict[str, type] = {
    "latency_ms": int,
    "status": int,
    "code": str,
    "message": str,
    "retry_after": int,
    "malformed": str,
    "times": int,
    "drop_connection": bool,
    "only_customer": str,
    "drip_ms": int,
}

_DEFAULT_CODES: dict[int, tuple[str, str]] = {
    429: ("too_many_requests", "Request was throttled."),
    500: ("internal_error", "Internal server error."),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "Service temporarily unavailable."),
    504: ("gateway_timeout", "Gateway timeout."),
}

_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Fault:
    """How `customer_license_users` requests misbehave while this fault is set.

    `latency_ms` delays every matching request. At most one of `status`, `malformed` and
    `drop_connection` makes the request fail; `times` limits the failures to the next N
    matching requests (None: until cleared). `only_customer` scopes it all to one e-mail.
    `drip_ms` sends a successful answer a few bytes at a time, one chunk every `drip_ms`: each
    read is quick, the whole answer takes minutes (a "slow drip").
    """

    latency_ms: int = 0
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    malformed: MalformedKind | None = None
    times: int | None = None
    drop_connection: bool = False
    only_customer: str | None = None
    drip_ms: int = 0

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.drip_ms < 0:
            raise ValueError("drip_ms must be >= 0")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be between 400 and 599")
        if self.malformed is not None and self.malformed not in MALFORMED_KINDS:
            raise ValueError(f"malformed must be one of {sorted(MALFORMED_KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 (or null for until cleared)")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        failure_kinds = [self.status is not None, self.malformed is not None, self.drop_connection]
        if sum(failure_kinds) > 1:
            raise ValueError("set only one of status, malformed and drop_connection")
        if self.status is None and (self.code, self.message, self.retry_after) != (None,) * 3:
            raise ValueError("code, message and retry_after need a status")

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """Build from a JSON object; ValueError names the first bad field."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        unknown = sorted(set(data) - set(_FIELD_TYPES))
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        fields: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                continue
            expected = _FIELD_TYPES[name]
            wrong_bool = isinstance(value, bool) and expected is not bool
            if wrong_bool or not isinstance(value, expected):
                raise ValueError(f"{name} must be {expected.__name__}")
            fields[name] = value
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def fails(self) -> bool:
        return self.status is not None or self.malformed is not None or self.drop_connection

    def matches(self, customer: str) -> bool:
        return self.only_customer is None or self.only_customer.lower() == customer.lower()


def failure_response(fault: Fault) -> Response:
    """The answer a request gets instead of its data while `fault` fails it."""
    if fault.drop_connection:
        return DroppedConnection()
    if fault.malformed is not None:
        return malformed_response(fault.malformed)
    assert fault.status is not None
    default_code, default_message = _DEFAULT_CODES.get(
        fault.status, ("sandbox_fault", "Fault injected by the sandbox.")
    )
    code = fault.code or default_code
    message = fault.message or default_message
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    return JSONResponse(
        {"status": fault.status, "code": code, "message": message},
        status_code=fault.status,
        headers=headers,
    )


def malformed_response(kind: MalformedKind) -> Response:
    if kind == "json":
        return Response('{"customer": [broken', media_type="application/json")
    if kind == "html":
        return Response(_BAD_GATEWAY_PAGE, status_code=502, media_type="text/html")
    if kind == "empty":
        return Response(b"", media_type="application/json")
    if kind == "gzip":  # says gzip, is not: the client cannot decode the body
        return Response(
            b'{"customer": {}, "users": []}',
            media_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )
    return Response("OK", media_type="text/plain")


class DroppedConnection(Response):
    """Starts an answer, then returns without its body.

    An ASGI app cannot close its connection directly; uvicorn closes it when the app returns
    mid-answer, so the client sees the connection end (httpx: RemoteProtocolError). Uvicorn
    logs one error line for it.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"4096"),
                ],
            }
        )
