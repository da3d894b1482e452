"""License API authorization: HMAC request signing and OAuth client credentials."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Protocol

import httpx

from bot.licensespring.errors import CONNECTION_ERROR, OAUTH_FAILED, TIMEOUT, LicenseApiError

SIGNING_PREFIX = "licenseSpring\ndate: "
# Refresh this long before the server-stated expiry so a token never dies in flight.
TOKEN_EXPIRY_MARGIN_S = 30.0


def http_date(now: float | None = None) -> str:
    """RFC 7231 date in GMT, as the Date header must carry it."""
    return formatdate(time.time() if now is None else now, usegmt=True)


def sign(shared_key: str, date: str) -> str:
    """base64(HMAC-SHA256(shared_key, "licenseSpring\\ndate: " + date))."""
    digest = hmac.new(
        shared_key.encode(), (SIGNING_PREFIX + date).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def hmac_authorization(api_key: str, shared_key: str, date: str) -> str:
    signature = sign(shared_key, date)
    return f'algorithm="hmac-sha256",headers="date",signature="{signature}",apikey="{api_key}"'


class Authenticator(Protocol):
    async def headers(self) -> dict[str, str]:
        """Headers for one request, built fresh (a new Date every time)."""
        ...

    async def invalidate(self, rejected_authorization: str) -> None:
        """The server refused this Authorization value: forget it unless already replaced."""
        ...


class HmacAuth:
    def __init__(self, api_key: str, shared_key: str) -> None:
        self._api_key = api_key
        self._shared_key = shared_key

    async def headers(self) -> dict[str, str]:
        date = http_date()
        return {
            "Date": date,
            "Authorization": hmac_authorization(self._api_key, self._shared_key, date),
        }

    async def invalidate(self, rejected_authorization: str) -> None:
        return None


class OAuthClientCredentials:
    """Fetches a bearer token once, reuses it until shortly before expiry.

    Concurrent callers share one fetch (a lock around the check-and-fetch).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._clock = clock
        self.fetches = 0

    async def _token_value(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            response = await self._http.post(
                self._token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise LicenseApiError(0, TIMEOUT, "the OAuth token request timed out") from exc
        except httpx.TransportError as exc:
            raise LicenseApiError(0, CONNECTION_ERROR, "could not reach the OAuth server") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code != 200 or not isinstance(payload, dict):
            error = payload.get("error", "") if isinstance(payload, dict) else ""
            raise LicenseApiError(
                response.status_code, OAUTH_FAILED, f"token request refused {error}".strip()
            )
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise LicenseApiError(response.status_code, OAUTH_FAILED, "no access_token in answer")
        try:
            lifetime = float(payload.get("expires_in", 60))
        except (TypeError, ValueError):
            lifetime = 60.0
        margin = min(TOKEN_EXPIRY_MARGIN_S, lifetime / 4)
        self._token = token
        self._expires_at = self._clock() + max(lifetime - margin, 1.0)

    async def headers(self) -> dict[str, str]:
        token = await self._token_value()
        return {"Date": http_date(), "Authorization": f"Bearer {token}"}

    async def invalidate(self, rejected_authorization: str) -> None:
        # Many requests may fail with the same expired token; only the first refresh counts.
        async with self._lock:
            if rejected_authorization == f"Bearer {self._token}":
                self._token = None
                self._expires_at = 0.0
