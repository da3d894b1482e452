"""Shared fixtures: the sandbox License API as a real server on loopback, and settings for it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.demo.servers import serve_in_thread
from bot.sandbox import seed
from bot.sandbox.app import SandboxState, create_sandbox_app
from bot.store import Store


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[tuple[str, SandboxState]]:
    state = SandboxState()
    with serve_in_thread(create_sandbox_app(state, token_ttl=480)) as url:
        yield url, state


@pytest.fixture
def sandbox(sandbox_server: tuple[str, SandboxState]) -> Iterator[SandboxState]:
    """The running sandbox's state, with faults and counters reset around each test."""
    _, state = sandbox_server
    _wait_until_idle(state)  # requests a previous test abandoned must not count in this one
    state.reset()
    state.expire_tokens()
    yield state
    state.reset()


def _wait_until_idle(state: SandboxState, timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while state.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def sandbox_url(sandbox_server: tuple[str, SandboxState]) -> str:
    return sandbox_server[0]


SettingsFactory = Callable[..., Settings]


def sandbox_settings(sandbox_url: str, **overrides: Any) -> Settings:
    """Settings pointing at the sandbox with HMAC keys; keyword overrides by field name."""
    values: dict[str, Any] = {
        "licensespring_api_url": sandbox_url,
        "licensespring_api_key": seed.SANDBOX_API_KEY,
        "licensespring_shared_key": seed.SANDBOX_SHARED_KEY,
        "licensespring_oauth_url": f"{sandbox_url}/oauth/token",
        "licensespring_connect_timeout": 2.0,
        "licensespring_read_timeout": 5.0,
        "licensespring_rate_limit": 45.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def fake_slack_overrides(slack: Any) -> dict[str, Any]:
    from bot.demo.slack_requests import SIGNING_SECRET

    return {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
    }


@pytest.fixture
def make_settings(sandbox_url: str, tmp_path: Any) -> SettingsFactory:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return lambda **overrides: sandbox_settings(
        sandbox_url, **{"database_url": database_url, **overrides}
    )


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[Any]:
    from bot.demo.fake_slack import running_fake_slack

    with running_fake_slack() as slack:
        yield slack


@pytest.fixture
def fake_slack(fake_slack_server: Any) -> Any:
    fake_slack_server.reset()
    return fake_slack_server


@pytest.fixture
def start_bot(make_settings: SettingsFactory, fake_slack: Any) -> Iterator[Callable[..., Any]]:
    """Start the real bot over loopback: `start_bot(**settings_overrides)` -> RunningBot."""
    from contextlib import ExitStack

    from tests.slack_harness import running_bot

    with ExitStack() as stack:

        def start(**overrides: Any) -> Any:
            settings = make_settings(**{**fake_slack_overrides(fake_slack), **overrides})
            return stack.enter_context(running_bot(settings, fake_slack))

        yield start


@pytest.fixture(scope="module")
def start_bot_once(
    sandbox_server: tuple[str, SandboxState], fake_slack_server: Any, tmp_path_factory: Any
) -> Iterator[Any]:
    """One bot for a whole module (property tests send many requests to it)."""
    from tests.slack_harness import running_bot

    settings = sandbox_settings(
        sandbox_server[0],
        licensespring_products=["acme-desktop", "acme-cli"],
        database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bot') / 'bot.db'}",
        **fake_slack_overrides(fake_slack_server),
    )
    with running_bot(settings, fake_slack_server) as bot:
        yield bot


# --- The store (bot/store): each store test runs on SQLite and on PostgreSQL ---------------

POSTGRES_HINT = "set TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
_postgres_unavailable: dict[str, str] = {}  # URL -> why it could not be used, per session


async def _reset_postgres(url: str) -> str | None:
    """Drop the bot's tables so each test starts on an empty database; None or why not."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.store import async_database_url
    from bot.store.tables import metadata

    if url in _postgres_unavailable:
        return _postgres_unavailable[url]
    engine = create_async_engine(async_database_url(url), connect_args={"timeout": 5})
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        _postgres_unavailable[url] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        return _postgres_unavailable[url]
    finally:
        await engine.dispose()
    return None


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A DATABASE_URL with none of the bot's tables: a fresh SQLite file, or TEST_DATABASE_URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.skip(f"PostgreSQL not available: {POSTGRES_HINT}")
    reason = await _reset_postgres(url)
    if reason is not None:
        pytest.skip(f"PostgreSQL not available ({reason}): {POSTGRES_HINT}")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    yield opened
    await opened.close()


# --- the leak scan that runs over the whole session ----------------------------------------


def _all_seeded_passwords() -> set[str]:
    passwords: set[str] = set()
    bodies = [body for customers in seed.seed_customers().values() for body in customers.values()]
    bodies.append(seed.build_huge())
    for body in bodies:
        passwords.update(u.get("initial_password") or "" for u in body["users"])
    passwords.discard("")
    return passwords


@pytest.fixture(scope="session", autouse=True)
def leak_scanner(fake_slack_server: Any) -> Iterator[Any]:
    from bot.demo.slack_requests import SIGNING_SECRET
    from tests.support import leaks

    scanner = leaks.LeakScanner(
        secrets=[
            seed.SANDBOX_API_KEY,
            seed.SANDBOX_SHARED_KEY,
            seed.SANDBOX_CLIENT_SECRET,
            SIGNING_SECRET,
            fake_slack_server.bot_token,
        ],
        passwords=_all_seeded_passwords(),
    )
    leaks.ACTIVE = scanner
    fake_slack_server.observers.append(scanner.scan_bytes)
    yield scanner
    leaks.ACTIVE = None
    assert not scanner.hits, "leaked or unhandled:\n" + "\n".join(scanner.hits[:20])


@pytest.fixture(autouse=True)
def scanned_logging(leak_scanner: Any) -> None:
    """Every test logs (JSON, DEBUG) through the leak scanner, whatever a previous test set."""
    from bot.logs import configure_logging
    from tests.support.leaks import ScannedStream

    configure_logging(log_format="json", level="DEBUG", stream=ScannedStream(leak_scanner))  # type: ignore[arg-type]
