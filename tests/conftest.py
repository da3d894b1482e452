"""Shared fixtures: the sandbox License API as a real server on loopback, and settings for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.sandbox import seed
from bot.sandbox.app import SandboxState, create_sandbox_app
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[tuple[str, SandboxState]]:
    state = SandboxState()
    with serve_in_thread(create_sandbox_app(state, token_ttl=480)) as url:
        yield url, state


@pytest.fixture
def sandbox(sandbox_server: tuple[str, SandboxState]) -> Iterator[SandboxState]:
    """The running sandbox's state, with faults and counters reset around each test."""
    _, state = sandbox_server
    state.reset()
    state.expire_tokens()
    yield state
    state.reset()


@pytest.fixture
def sandbox_url(sandbox_server: tuple[str, SandboxState]) -> str:
    return sandbox_server[0]


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(sandbox_url: str) -> SettingsFactory:
    """Settings pointing at the sandbox with HMAC keys; keyword overrides by field name."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "licensespring_api_url": sandbox_url,
            "licensespring_api_key": seed.SANDBOX_API_KEY,
            "licensespring_shared_key": seed.SANDBOX_SHARED_KEY,
            "licensespring_oauth_url": f"{sandbox_url}/oauth/token",
            "licensespring_connect_timeout": 2.0,
            "licensespring_read_timeout": 5.0,
            "licensespring_rate_limit": 50.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build
