"""Pure: LicenseSpring's webhook signature (`t=<unix>,v1=<hex>[,v1=<hex>...]`).

The expected signature is the hex HMAC-SHA256 of `"<t>.<raw body>"` with the endpoint
secret; any `v1` may match (several are sent while a secret is rolled over). The check runs
on the raw request bytes and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

SCHEME = "v1"
TOLERANCE_S = 300
MAX_SIGNATURES = 8  # a header with more is malformed (rollovers send two or three)
MAX_HEADER_CHARS = 1024  # eight signatures and a timestamp fit in well under this
MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; `int()` of more is refused


class SignatureError(Exception):
    """Why a webhook's signature was refused (for the log; the sender only sees 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # missing | malformed | stale | mismatch


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]


def parse_header(value: str | None) -> SignatureHeader:
    """The header's parts; anything unexpected (huge numbers, missing or repeated parts,
    non-ASCII, too long) is `malformed`, never another error."""
    if not value or not value.strip():
        raise SignatureError("missing")
    if len(value) > MAX_HEADER_CHARS or not value.isascii():
        raise SignatureError("malformed")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        name, sep, text = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed")
        if name == "t":
            digits = 0 < len(text) <= MAX_TIMESTAMP_DIGITS and text.isdigit()
            if timestamp is not None or not digits:
                raise SignatureError("malformed")
            timestamp = int(text)
        elif name == SCHEME:
            signatures.append(text.lower())  # one that is not hex simply does not match
        # other schemes are ignored, as the official verifier does
    if timestamp is None or not signatures or len(signatures) > MAX_SIGNATURES:
        raise SignatureError("malformed")
    return SignatureHeader(timestamp, tuple(signatures))


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    header: str | None,
    body: bytes,
    secrets: str | Sequence[str],
    *,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> int:
    """The header's timestamp when a `v1` matches one of `secrets` and it is fresh; else raise.

    Unlike the official verifier, a timestamp too far in the future is refused as well.
    """
    parsed = parse_header(header)
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    matched = False
    for secret in candidates:
        expected = expected_signature(secret, parsed.timestamp, body).encode()
        for given in parsed.signatures:
            # no short-circuit: every comparison runs, each in constant time
            matched |= hmac.compare_digest(expected, given.encode())
    if not matched:
        raise SignatureError("mismatch")
    if abs(now - parsed.timestamp) > tolerance_s:
        raise SignatureError("stale")
    return parsed.timestamp


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value LicenseSpring would send (the sandbox and tests use it)."""
    return f"t={timestamp},{SCHEME}={expected_signature(secret, timestamp, body)}"
