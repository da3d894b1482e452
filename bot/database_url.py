"""DATABASE_URL handling: turn what operators paste into an async SQLAlchemy URL (pure)."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ACCEPTED_FORMS = (
    "sqlite:///path.db, sqlite+aiosqlite:///path.db, "
    "postgres://user:pass@host:5432/db, postgresql://…, "
    "postgresql+psycopg2://…, postgresql+asyncpg://…"
)

_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"})
_POSTGRES_DRIVERS = frozenset(
    {
        "postgres",  # Heroku and other platforms still hand these out
        "postgresql",
        "postgresql+psycopg2",
        "postgresql+psycopg",
        "postgresql+asyncpg",
    }
)
# libpq's sslmode values; asyncpg's `ssl` connect argument takes the same words.
_SSL_MODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})

_PASSWORD_IN_TEXT = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_REDACTED = "***"


def _bad_url(reason: str) -> ValueError:
    return ValueError(f"DATABASE_URL: {reason}; expected one of: {ACCEPTED_FORMS}")


def _parse(url: str) -> URL:
    try:
        return make_url(url.strip())
    except ArgumentError:
        # Never echo the URL itself: it may carry a password.
        raise _bad_url("not a database URL") from None


def async_database_url(url: str) -> str:
    """The SQLAlchemy async URL for `url` (aiosqlite or asyncpg); ValueError if unsupported.

    libpq's `sslmode=` query parameter becomes asyncpg's `ssl=`, which takes the same values.
    """
    parsed = _parse(url)
    driver = parsed.drivername.lower()
    if driver in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if driver not in _POSTGRES_DRIVERS:
        scheme = driver.split("+", 1)[0] or "(none)"
        raise _bad_url(f"unsupported scheme {scheme!r}")
    parsed = parsed.set(drivername="postgresql+asyncpg")
    if "sslmode" in parsed.query:
        raw = parsed.query["sslmode"]
        mode = (raw if isinstance(raw, str) else raw[-1]).lower()
        if mode not in _SSL_MODES:
            raise _bad_url(f"unknown sslmode {mode!r}")
        parsed = parsed.difference_update_query(["sslmode"])
        if "ssl" not in parsed.query:
            parsed = parsed.update_query_dict({"ssl": mode})
    return parsed.render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    """`url` with its password (in the authority or as a query parameter) hidden, for logs."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        return _PASSWORD_IN_TEXT.sub(rf"\1{_REDACTED}@", url)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": _REDACTED})
    # Rendering percent-escapes the query's "***"; put it back as written.
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", _REDACTED)
